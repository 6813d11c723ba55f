/** The learning-rate schedules of `learningRateAt`: the one list of them. */
export const SCHEDULES = ['constant', 'step', 'cosine', 'onecycle'] as const;
type Schedule = (typeof SCHEDULES)[number];

/** The config keys a schedule reads (train/config.ts documents each). */
export interface ScheduleSettings {
  lr: number;
  schedule: Schedule;
  stepEpochs: number;
  gamma: number;
  warmup: number;
}

/**
 * The learning rate at a step (0-based) of a run of `totalSteps` steps. `onecycle` warms up
 * linearly from lr/25 to lr, then anneals with a cosine to lr/1e4 (Smith's one-cycle policy).
 */
export function learningRateAt(
  step: number,
  totalSteps: number,
  stepsPerEpoch: number,
  config: ScheduleSettings,
): number {
  const { lr } = config;
  const progress = totalSteps <= 1 ? 0 : Math.min(1, step / (totalSteps - 1));
  switch (config.schedule) {
    case 'constant':
      return lr;
    case 'step':
      return lr * config.gamma ** Math.floor(step / (stepsPerEpoch * config.stepEpochs));
    case 'cosine':
      return lr * 0.5 * (1 + Math.cos(Math.PI * progress));
    case 'onecycle': {
      const start = lr / 25;
      const end = lr / 1e4;
      if (progress < config.warmup) return start + (lr - start) * (progress / config.warmup);
      const t = (progress - config.warmup) / (1 - config.warmup);
      return end + (lr - end) * 0.5 * (1 + Math.cos(Math.PI * t));
    }
  }
}

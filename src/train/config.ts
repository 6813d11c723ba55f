import { existsSync, readFileSync } from 'node:fs';
import { UserError } from '../util/errors.js';
import { ARCHITECTURES } from '../model/architectures.js';
import { BACKENDS } from '../backend/index.js';

/**
 * The one typed config of `mnist-cnn train`: defaults, then a preset, then `--config FILE.json`,
 * then flags. Unknown keys are an error. The final config is saved as config.json in the run.
 */
export interface TrainConfig {
  arch: (typeof ARCHITECTURES)[number];
  dataset: 'mnist' | 'fashion-mnist' | 'idx';
  dataDir: string | null;
  mirror: string | null;
  /** Training images to use (stratified subset), 0 for all. */
  limit: number;
  /** Images held out from the training set for validation (stratified); null: one in twelve (5,000 of 60,000). */
  valCount: number | null;
  epochs: number;
  batchSize: number;
  optimizer: 'adam' | 'sgd';
  /** Peak learning rate (the constant one for `constant`). */
  lr: number;
  /** SGD momentum (Nesterov). */
  momentum: number;
  schedule: 'constant' | 'step' | 'cosine' | 'onecycle';
  /** `step`: multiply the learning rate by `gamma` every `stepEpochs` epochs. */
  stepEpochs: number;
  gamma: number;
  /** `onecycle`: share of the steps spent warming up. */
  warmup: number;
  labelSmoothing: number;
  augment: boolean;
  /** Augmentation bounds: shift in pixels, rotation in degrees, scale as a fraction. */
  maxShift: number;
  maxRotation: number;
  maxScale: number;
  /** Stop when validation accuracy has not improved for this many epochs (0: never). */
  earlyStopping: number;
  seed: number;
  backend: (typeof BACKENDS)[number];
  evalBatchSize: number;
  /**
   * Threads that share each batch (data-parallel, see parallel.ts): 2 uses both cores of a
   * 2-core machine. Fixed rather than detected, because batch norm's statistics per part make
   * results depend on it.
   */
  threads: number;
}

export const DEFAULT_CONFIG: TrainConfig = {
  arch: 'default',
  dataset: 'mnist',
  dataDir: null,
  mirror: null,
  limit: 0,
  valCount: null,
  epochs: 5,
  batchSize: 128,
  optimizer: 'adam',
  lr: 0.004,
  momentum: 0.9,
  schedule: 'onecycle',
  stepEpochs: 1,
  gamma: 0.7,
  warmup: 0.2,
  labelSmoothing: 0.1,
  augment: true,
  maxShift: 2,
  maxRotation: 10,
  maxScale: 0.1,
  earlyStopping: 0,
  seed: 1,
  backend: 'wasm',
  evalBatchSize: 256,
  threads: 2,
};

/** Named starting points, applied over the defaults and under a config file and flags. */
export const PRESETS: Record<string, Partial<TrainConfig>> = {
  default: {},
  /** A few seconds: for smoke tests. */
  smoke: { limit: 2000, epochs: 1, valCount: 500, augment: false },
  /** The reference recipes with their textbook settings. */
  lenet5: { arch: 'lenet5', epochs: 10, lr: 0.001, schedule: 'constant', labelSmoothing: 0, augment: false },
  keras: { arch: 'keras', epochs: 15, lr: 0.001, schedule: 'constant', labelSmoothing: 0, augment: false, valCount: 6000 },
  /**
   * The fixed recipe of the time-to-99% benchmark: one epoch of the compact net on all 60,000
   * images (settings chosen on the validation split, never the test set).
   */
  fast: { arch: 'compact', epochs: 1, batchSize: 64, lr: 0.006, augment: false, labelSmoothing: 0.1, valCount: 0 },
  /** Longer, with augmentation: for the best accuracy. */
  best: { epochs: 15, lr: 0.004 },
};

const CHOICES: Partial<Record<keyof TrainConfig, readonly string[]>> = {
  arch: ARCHITECTURES,
  dataset: ['mnist', 'fashion-mnist', 'idx'],
  optimizer: ['adam', 'sgd'],
  schedule: ['constant', 'step', 'cosine', 'onecycle'],
  backend: BACKENDS,
};

const NULLABLE: (keyof TrainConfig)[] = ['dataDir', 'mirror', 'valCount'];
const EXPECTED_TYPE: Partial<Record<keyof TrainConfig, string>> = { dataDir: 'string', mirror: 'string', valCount: 'number' };

type Check = (value: number) => boolean;
const RANGES: Partial<Record<keyof TrainConfig, [Check, string]>> = {
  limit: [(v) => Number.isInteger(v) && v >= 0, 'a whole number >= 0'],
  valCount: [(v) => Number.isInteger(v) && v >= 0, 'a whole number >= 0'],
  epochs: [(v) => Number.isInteger(v) && v >= 1, 'a whole number >= 1'],
  batchSize: [(v) => Number.isInteger(v) && v >= 1 && v <= 8192, 'a whole number from 1 to 8192'],
  lr: [(v) => v > 0 && v < 10, 'a number in (0, 10)'],
  momentum: [(v) => v >= 0 && v < 1, 'a number in [0, 1)'],
  stepEpochs: [(v) => Number.isInteger(v) && v >= 1, 'a whole number >= 1'],
  gamma: [(v) => v > 0 && v <= 1, 'a number in (0, 1]'],
  warmup: [(v) => v >= 0 && v < 1, 'a number in [0, 1)'],
  labelSmoothing: [(v) => v >= 0 && v < 1, 'a number in [0, 1)'],
  maxShift: [(v) => v >= 0 && v <= 8, 'a number from 0 to 8'],
  maxRotation: [(v) => v >= 0 && v <= 45, 'a number from 0 to 45'],
  maxScale: [(v) => v >= 0 && v < 0.5, 'a number in [0, 0.5)'],
  earlyStopping: [(v) => Number.isInteger(v) && v >= 0, 'a whole number >= 0'],
  seed: [(v) => Number.isInteger(v), 'a whole number'],
  evalBatchSize: [(v) => Number.isInteger(v) && v >= 1, 'a whole number >= 1'],
  threads: [(v) => Number.isInteger(v) && v >= 1 && v <= 16, 'a whole number from 1 to 16'],
};

/** Check one layer of overrides: known keys, right types, values in range. `origin` names where it came from. */
export function validateOverrides(overrides: Record<string, unknown>, origin: string): Partial<TrainConfig> {
  const known = Object.keys(DEFAULT_CONFIG);
  for (const [key, value] of Object.entries(overrides)) {
    if (!known.includes(key)) {
      throw new UserError(`${origin}: unknown config key '${key}' (known keys: ${known.join(', ')})`);
    }
    const k = key as keyof TrainConfig;
    if (value === null && NULLABLE.includes(k)) continue;
    const expected = EXPECTED_TYPE[k] ?? typeof DEFAULT_CONFIG[k];
    if (typeof value !== expected) {
      throw new UserError(`${origin}: '${key}' must be a ${expected}, got ${JSON.stringify(value)}`);
    }
    const choices = CHOICES[k];
    if (choices && !choices.includes(value as string)) {
      throw new UserError(`${origin}: '${key}' must be one of ${choices.join(', ')}, got ${JSON.stringify(value)}`);
    }
    const range = RANGES[k];
    if (range && !range[0](value as number)) {
      throw new UserError(`${origin}: '${key}' must be ${range[1]}, got ${JSON.stringify(value)}`);
    }
  }
  return overrides as Partial<TrainConfig>;
}

export function readConfigFile(path: string): Partial<TrainConfig> {
  if (!existsSync(path)) throw new UserError(`config file ${path} does not exist`, path);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new UserError(`${path}: not valid JSON (${(err as Error).message})`, path);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new UserError(`${path}: must hold a JSON object of config keys`, path);
  }
  return validateOverrides(parsed as Record<string, unknown>, path);
}

/** defaults → preset → config file → flags. */
export function resolveConfig(options: { preset?: string; configFile?: string; flags?: Record<string, unknown> } = {}): TrainConfig {
  const presetName = options.preset ?? 'default';
  const preset = PRESETS[presetName];
  if (!preset) throw new UserError(`unknown preset '${presetName}' (choose one of ${Object.keys(PRESETS).join(', ')})`);
  const file = options.configFile ? readConfigFile(options.configFile) : {};
  const flags = validateOverrides(options.flags ?? {}, 'flags');
  return { ...DEFAULT_CONFIG, ...preset, ...file, ...flags };
}

import { Command, Option } from 'commander';
import { PRESET_NAMES } from '../../train/config.js';
import { allConfigOptions, configOverrides } from '../options.js';

interface TrainFlags {
  preset?: string;
  config?: string;
  out?: string;
  resume?: string;
  allowConfigChange?: boolean;
  summary?: boolean;
  quiet?: boolean;
  json?: boolean;
  [key: string]: unknown;
}

function addTrainingOptions(command: Command): Command {
  command
    .addOption(new Option('--preset <name>', 'starting point, under a config file and flags').choices(PRESET_NAMES))
    .option('--config <file>', 'JSON file of config keys (over the preset, under flags)');
  for (const option of allConfigOptions()) command.addOption(option);
  return command
    .option('--out <dir>', 'run folder (default: runs/<timestamp>-<arch>)')
    .option('--quiet', 'print nothing but errors')
    .option('--json', 'print one JSON object per epoch');
}

/** The exit code of a process stopped by a signal: 128 + its number. */
const SIGNAL_EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;
type StopSignal = keyof typeof SIGNAL_EXIT_CODES;

/**
 * Ctrl-C (SIGINT) and SIGTERM (`kill`, a container being stopped) stop training after the
 * current batch, with a checkpoint saved; a second one quits at once. `received` is the first
 * signal, for the exit code.
 */
function interruptOnSignals(): { signal: AbortSignal; received: () => StopSignal | undefined; dispose: () => void } {
  const controller = new AbortController();
  let received: StopSignal | undefined;
  const handlers = (Object.keys(SIGNAL_EXIT_CODES) as StopSignal[]).map((name) => {
    const handler = () => {
      if (received) process.exit(SIGNAL_EXIT_CODES[name]);
      received = name;
      console.error(
        `\n${name === 'SIGINT' ? 'Ctrl-C' : name}: stopping after the current batch (again to quit at once)...`,
      );
      controller.abort();
    };
    process.on(name, handler);
    return { name, handler };
  });
  return {
    signal: controller.signal,
    received: () => received,
    dispose: () => handlers.forEach(({ name, handler }) => process.off(name, handler)),
  };
}

async function reporterFor(opts: TrainFlags) {
  const { humanReporter, jsonReporter, quietReporter } = await import('../../train/reporter.js');
  return opts.quiet ? quietReporter : opts.json ? jsonReporter : humanReporter();
}

async function runTrain(opts: TrainFlags, evaluateAfter: boolean): Promise<void> {
  const { resolveConfig } = await import('../../train/config-file.js');
  const { train, resume } = await import('../../train/trainer.js');
  const { UserError } = await import('../../util/errors.js');
  if (opts.resume && Object.keys(configOverrides(opts)).length + (opts.preset ? 1 : 0) + (opts.config ? 1 : 0) > 0) {
    throw new UserError('--resume continues a run with its saved config.json; it takes no other training flags');
  }
  if (opts.allowConfigChange && !opts.resume) throw new UserError('--allow-config-change goes with --resume');
  const reporter = await reporterFor(opts);
  // `start` trains its own recipe (START_PRESET: the defaults with non-digit pictures) unless given a preset.
  const preset = opts.preset ?? (evaluateAfter ? (await import('../start.js')).START_PRESET : undefined);
  const config = opts.resume
    ? undefined
    : resolveConfig({ preset, configFile: opts.config, flags: configOverrides(opts) });
  if (opts.summary) {
    const { initBackend } = await import('../../backend/index.js');
    const { modelSummary } = await import('../../model/architectures.js');
    const { newModel } = await import('../../train/step.js');
    await initBackend('cpu');
    console.log(modelSummary(newModel(config!)));
    return;
  }
  const interrupt = interruptOnSignals();
  try {
    const result = opts.resume
      ? await resume(opts.resume, { reporter, signal: interrupt.signal, allowConfigChange: opts.allowConfigChange })
      : await train({ config: config!, outDir: opts.out, reporter, signal: interrupt.signal });
    if (result.interrupted) {
      result.model.dispose();
      process.exitCode = SIGNAL_EXIT_CODES[interrupt.received() ?? 'SIGINT'];
      return;
    }
    if (evaluateAfter) {
      const { evaluateAfterTraining } = await import('../start.js');
      await evaluateAfterTraining(result, { quiet: Boolean(opts.quiet), json: Boolean(opts.json) });
    } else if (!opts.quiet && !opts.json) {
      console.log(
        `saved ${result.dir} (best epoch ${result.metadata.bestEpoch}, val_accuracy ${result.metadata.bestValAccuracy.toFixed(4)})`,
      );
    }
    result.model.dispose();
  } finally {
    interrupt.dispose();
  }
}

export function registerTrain(program: Command): void {
  addTrainingOptions(
    program
      .command('train')
      .description('train a model; saves a run folder with the model, metadata, history and checkpoints')
      .option('--resume <dir>', 'continue an interrupted run from its last checkpoint')
      .option(
        '--allow-config-change',
        "with --resume: continue although the run's config.json changed since its checkpoint",
      )
      .option('--summary', 'print the architecture (Keras-style summary) and exit'),
  ).action((opts: TrainFlags) => runTrain(opts, false));

  addTrainingOptions(
    program
      .command('start')
      .description(
        'the main job: train the default model on the full data, evaluate it on the test set, write metrics and the report',
      )
      .option('--resume <dir>', 'continue an interrupted run from its last checkpoint')
      .option(
        '--allow-config-change',
        "with --resume: continue although the run's config.json changed since its checkpoint",
      ),
  ).action((opts: TrainFlags) => runTrain(opts, true));
}

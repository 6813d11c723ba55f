import { Command, Option } from 'commander';
import { PRESET_NAMES } from '../../train/config.js';
import { allConfigOptions, configOverrides } from '../options.js';

interface TrainFlags {
  preset?: string;
  config?: string;
  out?: string;
  resume?: string;
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

/** Ctrl-C stops after the current batch (a checkpoint is saved); a second Ctrl-C quits at once. */
function interruptOnSigint(): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) process.exit(130);
    console.error('\nstopping after the current batch (Ctrl-C again to quit at once)...');
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  return { signal: controller.signal, dispose: () => process.off('SIGINT', onSigint) };
}

async function reporterFor(opts: TrainFlags) {
  const { humanReporter, jsonReporter, quietReporter } = await import('../../train/reporter.js');
  return opts.quiet ? quietReporter : opts.json ? jsonReporter : humanReporter();
}

async function runTrain(opts: TrainFlags, evaluateAfter: boolean): Promise<void> {
  const { resolveConfig } = await import('../../train/config.js');
  const { train, resume } = await import('../../train/trainer.js');
  const { UserError } = await import('../../util/errors.js');
  if (opts.resume && Object.keys(configOverrides(opts)).length + (opts.preset ? 1 : 0) + (opts.config ? 1 : 0) > 0) {
    throw new UserError('--resume continues a run with its saved config.json; it takes no other training flags');
  }
  const reporter = await reporterFor(opts);
  const config = opts.resume ? undefined : resolveConfig({ preset: opts.preset, configFile: opts.config, flags: configOverrides(opts) });
  if (opts.summary) {
    const { initBackend } = await import('../../backend/index.js');
    const { buildModel, modelSummary } = await import('../../model/architectures.js');
    await initBackend('cpu');
    console.log(modelSummary(buildModel(config!.arch, config!.seed)));
    return;
  }
  const interrupt = interruptOnSigint();
  try {
    const result = opts.resume
      ? await resume(opts.resume, { reporter, signal: interrupt.signal })
      : await train({ config: config!, outDir: opts.out, reporter, signal: interrupt.signal });
    if (result.interrupted) {
      process.exitCode = 130;
      return;
    }
    if (evaluateAfter) {
      const { evaluateAfterTraining } = await import('../start.js');
      await evaluateAfterTraining(result, { quiet: Boolean(opts.quiet), json: Boolean(opts.json) });
    } else if (!opts.quiet && !opts.json) {
      console.log(`saved ${result.dir} (best epoch ${result.metadata.bestEpoch}, val_accuracy ${result.metadata.bestValAccuracy.toFixed(4)})`);
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
      .option('--summary', 'print the architecture (Keras-style summary) and exit'),
  ).action((opts: TrainFlags) => runTrain(opts, false));

  addTrainingOptions(
    program
      .command('start')
      .description('the main job: train the default model on the full data, evaluate it on the test set, write metrics and the report')
      .option('--resume <dir>', 'continue an interrupted run from its last checkpoint'),
  ).action((opts: TrainFlags) => runTrain(opts, true));
}

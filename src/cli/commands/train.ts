import { Command, Option } from 'commander';
import type { TrainConfig } from '../../train/config.js';
import { number } from '../parse.js';

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

/** Flag name (commander's camelCase) → config key; only the flags a user gave become overrides. */
const CONFIG_FLAGS: [string, keyof TrainConfig][] = [
  ['arch', 'arch'], ['dataset', 'dataset'], ['dataDir', 'dataDir'], ['mirror', 'mirror'], ['limit', 'limit'],
  ['valCount', 'valCount'], ['epochs', 'epochs'], ['batchSize', 'batchSize'], ['optimizer', 'optimizer'], ['lr', 'lr'],
  ['momentum', 'momentum'], ['schedule', 'schedule'], ['stepEpochs', 'stepEpochs'], ['gamma', 'gamma'], ['warmup', 'warmup'],
  ['labelSmoothing', 'labelSmoothing'], ['augment', 'augment'], ['maxShift', 'maxShift'], ['maxRotation', 'maxRotation'],
  ['maxScale', 'maxScale'], ['earlyStopping', 'earlyStopping'], ['seed', 'seed'], ['backend', 'backend'], ['evalBatchSize', 'evalBatchSize'], ['threads', 'threads'],
];

function addTrainingOptions(command: Command): Command {
  return command
    .option('--preset <name>', 'starting point: default | smoke | lenet5 | keras | best')
    .option('--config <file>', 'JSON file of config keys (over the preset, under flags)')
    .addOption(new Option('--arch <name>', 'architecture').choices(['default', 'lenet5', 'keras']))
    .addOption(new Option('--dataset <name>', 'dataset').choices(['mnist', 'fashion-mnist', 'idx']))
    .option('--data-dir <dir>', 'folder with the four IDX files')
    .option('--mirror <url>', 'base URL to download the IDX files from')
    .option('--limit <n>', 'train on a stratified subset of n images (0: all)', number)
    .option('--val-count <n>', 'images held out for validation (stratified)', number)
    .option('--epochs <n>', 'epochs', number)
    .option('--batch-size <n>', 'batch size', number)
    .addOption(new Option('--optimizer <name>', 'optimizer').choices(['adam', 'sgd']))
    .option('--lr <x>', 'peak learning rate', number)
    .option('--momentum <x>', 'SGD momentum', number)
    .addOption(new Option('--schedule <name>', 'learning-rate schedule').choices(['constant', 'step', 'cosine', 'onecycle']))
    .option('--step-epochs <n>', 'step schedule: epochs between decays', number)
    .option('--gamma <x>', 'step schedule: decay factor', number)
    .option('--warmup <x>', 'onecycle: share of steps spent warming up', number)
    .option('--label-smoothing <x>', 'label smoothing', number)
    .option('--augment', 'augment training images (shifts, rotations, scaling)')
    .option('--no-augment', 'no augmentation')
    .option('--max-shift <px>', 'augmentation: largest shift in pixels', number)
    .option('--max-rotation <deg>', 'augmentation: largest rotation in degrees', number)
    .option('--max-scale <x>', 'augmentation: largest scale change (0.1 = ±10%)', number)
    .option('--early-stopping <n>', 'stop after n epochs without a better validation accuracy (0: off)', number)
    .option('--seed <n>', 'random seed', number)
    .addOption(new Option('--backend <name>', 'TensorFlow.js backend').choices(['wasm', 'cpu', 'tensorflow']))
    .option('--eval-batch-size <n>', 'batch size for evaluation', number)
    .option('--threads <n>', 'threads sharing each batch, one per core (data-parallel)', number)
    .option('--out <dir>', 'run folder (default: runs/<timestamp>-<arch>)')
    .option('--quiet', 'print nothing but errors')
    .option('--json', 'print one JSON object per epoch');
}

function configFlags(opts: TrainFlags): Record<string, unknown> {
  const flags: Record<string, unknown> = {};
  for (const [flag, key] of CONFIG_FLAGS) if (opts[flag] !== undefined) flags[key] = opts[flag];
  return flags;
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
  if (opts.resume && Object.keys(configFlags(opts)).length + (opts.preset ? 1 : 0) + (opts.config ? 1 : 0) > 0) {
    throw new UserError('--resume continues a run with its saved config.json; it takes no other training flags');
  }
  const reporter = await reporterFor(opts);
  const config = opts.resume ? undefined : resolveConfig({ preset: opts.preset, configFile: opts.config, flags: configFlags(opts) });
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
      const { evaluateAfterTraining } = await import('../../train/finish.js');
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

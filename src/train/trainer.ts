/**
 * The training loop, top to bottom: data → split → model and optimizer (fresh or from the
 * checkpoint) → for each epoch, for each batch: learning rate, fill, step on all threads →
 * validate, keep the best, checkpoint. Where the randomness comes from is randomness.ts; what
 * goes into the run folder besides weights is run-folder.ts.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../backend/index.js';
import { startNodeReplicaThread } from '../backend/node-replica-thread.js';
import { ModelReplicas } from '../backend/replicas.js';
import { BatchFiller } from '../data/batches.js';
import { loadMnist } from '../data/load.js';
import { seededSplitIndices, takeIndices } from '../data/split.js';
import { NUM_CLASSES, type Dataset, type ImageSet } from '../data/types.js';
import type { BackendName } from '../backend/names.js';
import { temperatureFit } from '../metrics/calibration.js';
import { accuracyAndLoss } from '../metrics/classification.js';
import { outputCount } from '../model/architectures.js';
import { historyToCsv, type EpochRecord } from '../model/history.js';
import { nonFiniteWeight } from '../model/finite.js';
import { loadModel, saveModel } from '../model/io.js';
import { MODEL_FILE } from '../model/model-files.js';
import { RUN_FILES, writeMetadata, type RunMetadata } from '../model/run.js';
import { Predictor } from '../predict/predictor.js';
import { predictSet } from '../predict/set-inference.js';
import { fitNonDigitRule } from '../predict/non-digit-rule.js';
import { fitPredictionSets } from '../predict/prediction-sets.js';
import { nonDigitTrainingImages } from '../image/non-digits.js';
import { withPicturedDigits } from '../image/digit-pictures.js';
import { UserError } from '../util/errors.js';
import { writeFileAtomic, writeJsonAtomic } from '../util/fs.js';
import { libraryVersions } from '../util/version.js';
import { freshTrainState, loadCheckpoint, saveCheckpoint, type TrainState } from './checkpoint.js';
import type { TrainConfig } from './config.js';
import { makeOptimizer, restoreOptimizer } from './optimizer.js';
import { epochOrder, picturedDigitsRng } from './randomness.js';
import { quietReporter, type TrainReporter } from './reporter.js';
import { closeRun, createRunFolder, openRunToResume } from './run-folder.js';
import { NO_VALIDATION_TEMPERATURE, runMetadata } from './run-metadata.js';
import { learningRateAt } from './schedule.js';
import { newModel, optimizerStep, type StepRun } from './step.js';

export interface TrainOptions {
  config: TrainConfig;
  /** The run folder; default runs/<timestamp>-<arch>. */
  outDir?: string;
  runsDir?: string;
  reporter?: TrainReporter;
  /** When aborted, training stops after the current batch and saves a checkpoint. */
  signal?: AbortSignal;
  /** Already loaded data (tests, benchmarks); loaded from config otherwise. */
  data?: Dataset;
  /** Stop after this many optimizer steps in total, as if interrupted (tests of resume). */
  stopAfterSteps?: number;
  /** Point <runs>/latest at this run (default true). */
  updateLatest?: boolean;
  /**
   * Non-digit pictures, labelled "not a digit" (`nonDigits` > 0), 28x28 bytes one after another;
   * generated from the run's seed (image/non-digits.ts) when not given (tests hand in fewer).
   */
  nonDigitImages?: { images: Uint8Array; count: number };
  /** Start from these weights on these sets instead of a fresh network on the config's split (fine-tuning: train/finetune.ts). */
  start?: StartFrom;
  /**
   * Called after every optimizer step with the model being trained; returning 'stop' ends the
   * run there (no checkpoint). The benchmark uses it to time a run to a target accuracy.
   */
  afterStep?: (info: {
    model: tf.LayersModel;
    replicas: ModelReplicas;
    epoch: number;
    batch: number;
    step: number;
    batchesPerEpoch: number;
  }) => 'stop' | void | Promise<'stop' | void>;
}

/**
 * A training that starts from given weights on given sets (train/finetune.ts): the loop, the
 * validation, the choice of the best epoch and the fits at the end are those of any run.
 */
export interface StartFrom {
  /** The network to train, its weights the starting point (trained in place). */
  model: tf.LayersModel;
  train: ImageSet;
  /** Picks the best epoch; the run's temperature and not-a-digit threshold are fitted on it. */
  val: ImageSet;
  /** The images of the dataset's training file in `val`, for val-indices.json (`evaluate --split val`). */
  valIndices: ArrayLike<number>;
  /** Written into metadata.json with the rest (what the run started from, and on what). */
  metadata: Partial<RunMetadata>;
}

export interface TrainResult {
  dir: string;
  metadata: RunMetadata;
  history: EpochRecord[];
  interrupted: boolean;
  /** The best model, loaded and ready (the caller disposes it). */
  model: tf.LayersModel;
  data: Dataset;
}

/**
 * Training that cannot go on: the loss or the weights became NaN or infinite. A UserError: the
 * cure is the user's (a lower learning rate), so the CLI prints the message without a stack.
 */
export class TrainingError extends UserError {}

/** Train a fresh run. Its folder is locked while it trains. */
export async function train(options: TrainOptions): Promise<TrainResult> {
  const run = await createRunFolder(options.config, options);
  try {
    return await runTraining(run.dir, options.config, options, undefined);
  } finally {
    await run.lock.release();
  }
}

/**
 * Continue an interrupted run from its last checkpoint; it ends where an uninterrupted run would
 * have. A config.json changed since the checkpoint is refused unless `allowConfigChange`.
 */
export async function resume(
  dir: string,
  options: Omit<TrainOptions, 'config' | 'outDir'> & { allowConfigChange?: boolean } = {},
): Promise<TrainResult> {
  const reporter = options.reporter ?? quietReporter;
  const run = await openRunToResume(dir, {
    allowConfigChange: options.allowConfigChange,
    notice: (message) => reporter.notice(message),
  });
  try {
    return await runTraining(run.dir, run.config, { ...options, config: run.config }, run.checkpointDir);
  } finally {
    await run.lock.release();
  }
}

/**
 * The config's sets from the dataset's training file: its seeded split (data/split.ts), some
 * training digits as people's pictures of them, through the photo pipeline (image/digit-pictures.ts).
 */
function splitForTraining(data: Dataset, config: TrainConfig): Omit<StartFrom, 'model' | 'metadata'> {
  const split = seededSplitIndices(data.train.labels, config);
  const train = withPicturedDigits(
    takeIndices(data.train, split.train),
    config.picturedDigits,
    picturedDigitsRng(config.seed),
  );
  return { train, val: takeIndices(data.train, split.val), valIndices: split.val };
}

/** Where a checkpoint stands, for messages: "after epoch 2" or "at epoch 3, batch 17". */
const checkpointPlace = (at: { epoch: number; batch: number }) =>
  at.batch === 0 ? `after epoch ${at.epoch}` : `at epoch ${at.epoch + 1}, batch ${at.batch}`;

async function runTraining(
  dir: string,
  config: TrainConfig,
  options: TrainOptions,
  checkpointDir: string | undefined,
): Promise<TrainResult> {
  const reporter = options.reporter ?? quietReporter;
  const backend = await initBackend(config.backend, { quiet: reporter === quietReporter });
  const data =
    options.data ??
    (await loadMnist({
      dataset: config.dataset,
      dataDir: config.dataDir ?? undefined,
      mirror: config.mirror ?? undefined,
    }));
  const { train: trainSet, val: valSet, valIndices } = options.start ?? splitForTraining(data, config);
  await writeJsonAtomic(join(dir, RUN_FILES.valIndices), Array.from(valIndices));

  // The model, the optimizer and where we stand: fresh, or exactly as the checkpoint left them.
  let model: tf.LayersModel;
  let state: TrainState;
  const optimizer = makeOptimizer(config);
  if (checkpointDir) {
    const checkpoint = await loadCheckpoint(checkpointDir, { optimizer: optimizer.getClassName() });
    model = checkpoint.model;
    state = checkpoint.state;
    if (config.nonDigits > 0 && outputCount(model) !== NUM_CLASSES + 1) {
      model.dispose();
      throw new UserError(
        `${checkpointDir}: this checkpoint's model has no "not a digit" output (it was trained with outlier exposure, which the 11th output replaced): train a new run`,
        checkpointDir,
      );
    }
    await restoreOptimizer(optimizer, checkpoint.optimizerWeights);
    tf.dispose(checkpoint.optimizerWeights.map((w) => w.tensor));
  } else {
    model = options.start?.model ?? newModel(config);
    state = freshTrainState();
  }
  const batchesPerEpoch = Math.ceil(trainSet.count / config.batchSize);
  const totalSteps = batchesPerEpoch * config.epochs;
  const createdAt = new Date().toISOString();
  const metadata = (): RunMetadata => ({
    ...runMetadata({
      config,
      params: model.countParams(),
      createdAt,
      backend,
      versions: libraryVersions(),
      data,
      trainCount: trainSet.count,
      valCount: valSet.count,
      state,
    }),
    ...options.start?.metadata,
  });
  const lrAt = (step: number) => learningRateAt(step, totalSteps, batchesPerEpoch, config);
  // The one stop condition: Ctrl-C (the signal), or a test's step budget while steps are left.
  // Asked on an epoch's last batch, the run stops after that epoch's end (validated, checkpointed).
  const stopAsked = () =>
    options.signal?.aborted ||
    (options.stopAfterSteps !== undefined && state.step >= options.stopAfterSteps && state.step < totalSteps);
  // Where the checkpoint on disk stands; a training that diverges stops without replacing it.
  let saved = checkpointDir ? { epoch: state.epoch, batch: state.batch } : undefined;
  const checkpointPath = join(dir, RUN_FILES.checkpoint);
  const saveCheckpointHere = async () => {
    await saveCheckpoint(checkpointPath, model, optimizer, state, config);
    saved = { epoch: state.epoch, batch: state.batch };
  };
  const diverged = (what: string) =>
    new TrainingError(
      `training diverged: ${what} (try a lower --lr)${saved ? `; the checkpoint ${checkpointPlace(saved)} is kept in ${checkpointPath}` : ''}`,
    );
  const checkWeights = (when: string) => {
    const broken = nonFiniteWeight(model);
    if (broken !== undefined) throw diverged(`the weights of ${broken} are NaN or infinite ${when}`);
  };

  reporter.start({
    dir,
    arch: config.arch,
    params: model.countParams(),
    trainCount: trainSet.count,
    valCount: valSet.count,
    epochs: config.epochs,
    resumedAt: checkpointDir ? { epoch: state.epoch, batch: state.batch } : undefined,
  });

  // Not-a-digit training: this many non-digit pictures ride along in every batch.
  const nonDigitsPerBatch = Math.round(config.nonDigits * config.batchSize);
  const nonDigits =
    nonDigitsPerBatch > 0 ? (options.nonDigitImages ?? (await nonDigitTrainingImages(config.seed))) : undefined;
  const rowsPerBatch = config.batchSize + (nonDigits ? nonDigitsPerBatch : 0);
  const replicas = await ModelReplicas.start(model, {
    threads: config.threads,
    backend,
    maxBatch: Math.max(rowsPerBatch, config.evalBatchSize),
    startThread: startNodeReplicaThread,
  });
  const filler = new BatchFiller(rowsPerBatch, replicas.batch);
  const stepRun: StepRun = {
    config,
    model,
    optimizer,
    replicas,
    filler,
    trainSet,
    nonDigits: nonDigits && { ...nonDigits, perBatch: nonDigitsPerBatch },
  };
  let interrupted = false;
  let stoppedEarlyAtEpoch: number | undefined;
  try {
    epochs: for (let epoch = state.epoch; epoch < config.epochs; epoch++) {
      const order = epochOrder(config.seed, epoch, trainSet.count);
      const epochStart = performance.now() - state.partial.seconds * 1000;
      for (let batch = state.batch; batch < batchesPerEpoch; batch++) {
        // One optimizer step on all threads.
        const { n, loss, correct } = await optimizerStep(stepRun, { epoch, batch, order, lr: lrAt(state.step) });
        if (!Number.isFinite(loss)) throw diverged(`the loss is ${loss} at epoch ${epoch + 1}, batch ${batch + 1}`);
        state.step++;
        state.batch = batch + 1;
        state.partial.loss += loss * n;
        state.partial.correct += correct;
        state.partial.seen += n;
        const elapsed = (performance.now() - epochStart) / 1000;
        reporter.batch({
          epoch,
          epochs: config.epochs,
          batch,
          batches: batchesPerEpoch,
          loss: state.partial.loss / state.partial.seen,
          imagesPerSecond: state.partial.seen / Math.max(elapsed, 1e-9),
        });
        if (
          (await options.afterStep?.({ model, replicas, epoch, batch, step: state.step, batchesPerEpoch })) === 'stop'
        ) {
          interrupted = true;
          break epochs;
        }
        // Ctrl-C mid-epoch: save where we are, to resume from this very batch.
        if (stopAsked() && state.batch < batchesPerEpoch) {
          state.partial.seconds = elapsed;
          checkWeights(`at epoch ${epoch + 1}, batch ${batch + 1}`);
          await saveCheckpointHere();
          reporter.notice(
            `stopped at epoch ${epoch + 1}, batch ${batch + 1}; checkpoint saved. Continue with: mnist-cnn train --resume ${dir}`,
          );
          interrupted = true;
          break epochs;
        }
      }

      // End of the epoch: validate, keep the best model, write history, checkpoint and metadata.
      const trainSeconds = (performance.now() - epochStart) / 1000;
      // (On wasm, ReLU turns NaN into 0: weights gone NaN can leave the loss finite, so look at them.)
      checkWeights(`after epoch ${epoch + 1}`);
      const val = await validate(replicas, valSet, config);
      if (val && !Number.isFinite(val.loss))
        throw diverged(`the validation loss is ${val.loss} after epoch ${epoch + 1}`);
      const record: EpochRecord = {
        epoch: epoch + 1,
        loss: state.partial.loss / state.partial.seen,
        accuracy: state.partial.correct / state.partial.seen,
        val_loss: val?.loss ?? null,
        val_accuracy: val?.accuracy ?? null,
        lr: lrAt(Math.max(0, state.step - 1)),
        seconds: trainSeconds,
        val_loss_calibrated: val?.calibratedLoss ?? null,
      };
      // The best epoch is the one with the lowest validation loss at its own best temperature (the
      // NLL after fitting T on these probabilities, metrics/calibration.ts), not the highest
      // accuracy: on 5,000 validation images the accuracy moves in steps of 0.02 points and its
      // standard error is ~0.13 points at 99.2%, so between late epochs it mostly ranks noise.
      // Calibrated, because the plain loss of a label-smoothed net rewards a less underconfident
      // epoch over a better one: `npm start`'s recipe with the not-a-digit output (seed 1) had
      // plain validation losses 0.1286 at epoch 3 and 0.1295 at epoch 5, while epoch 5 was right
      // on 10 more of the 5,000 images (99.42% against 99.22%) with its learning rate annealed to zero.
      const loss = record.val_loss_calibrated ?? record.loss;
      const best = state.bestValLoss === null || loss < state.bestValLoss;
      if (best) {
        state.bestValLoss = loss;
        state.bestValAccuracy = val?.accuracy ?? record.accuracy;
        state.bestEpoch = epoch + 1;
        state.epochsWithoutImprovement = 0;
        await saveModel(model, dir);
      } else {
        state.epochsWithoutImprovement++;
      }
      state.history.push(record);
      state.trainingSeconds += trainSeconds;
      state.epoch = epoch + 1;
      state.batch = 0;
      state.partial = { loss: 0, correct: 0, seen: 0, seconds: 0 };
      await writeFileAtomic(join(dir, RUN_FILES.history), historyToCsv(state.history));
      await saveCheckpointHere();
      await writeMetadata(dir, metadata());
      reporter.epoch({ ...record, best });

      if (
        config.earlyStopping > 0 &&
        state.epochsWithoutImprovement >= config.earlyStopping &&
        epoch + 1 < config.epochs
      ) {
        reporter.notice(`early stopping: the validation loss has not improved for ${config.earlyStopping} epochs`);
        stoppedEarlyAtEpoch = state.epoch;
        break;
      }
      if (stopAsked()) {
        reporter.notice(
          `stopped after epoch ${epoch + 1}; checkpoint saved. Continue with: mnist-cnn train --resume ${dir}`,
        );
        interrupted = true;
        break;
      }
    }
  } finally {
    await replicas.close();
  }
  reporter.end();
  optimizer.dispose();

  const last = metadata();
  // Hand back the best model (the one saved in the run folder), not the last one.
  model.dispose();
  const hasBest = existsSync(join(dir, MODEL_FILE));
  const bestModel = hasBest ? await loadModel(dir) : newModel(config);
  const rules =
    hasBest && !interrupted ? await fitAnswerRules(bestModel, valSet, config, backend, nonDigits !== undefined) : {};
  const meta = await closeRun(
    dir,
    { ...last, ...rules },
    { interrupted, stoppedEarlyAtEpoch, updateLatest: options.updateLatest !== false },
  );
  return { dir, metadata: meta, history: state.history, interrupted, model: bestModel, data };
}

/**
 * An epoch's validation, by the one inference path: accuracy, loss, and the loss at the
 * probabilities' own best temperature (which picks the best epoch). None without a validation split.
 */
async function validate(
  replicas: ModelReplicas,
  valSet: ImageSet,
  config: TrainConfig,
): Promise<{ accuracy: number; loss: number; calibratedLoss: number } | null> {
  if (valSet.count === 0) return null;
  const probs = await predictSet(replicas, valSet, { batchSize: config.evalBatchSize });
  // (On wasm, ReLU turns a NaN into 0, so NaN batch-norm statistics show as chance-level
  // accuracy rather than as a NaN loss; backends that propagate NaN are caught by the caller.)
  const { accuracy, loss } = accuracyAndLoss(probs, valSet.labels, replicas.outputs);
  return { accuracy, loss, calibratedLoss: temperatureFit(probs, valSet.labels, replicas.outputs).after.nll };
}

/**
 * What a finished run fits with its best weights, on validation data only, to turn probabilities
 * into answers: its temperature (calibrated confidences); with non-digits, its not-a-digit
 * threshold; and its prediction sets, for the probabilities at that temperature.
 */
async function fitAnswerRules(
  model: tf.LayersModel,
  valSet: ImageSet,
  config: TrainConfig,
  backend: BackendName,
  withNonDigits: boolean,
): Promise<Pick<RunMetadata, 'temperature' | 'temperatureFit' | 'nonDigitRule' | 'predictionSets'>> {
  const calibration = await fitRunTemperature(model, valSet, config, backend);
  if (valSet.count === 0 || calibration.temperature === undefined) return calibration;
  const inference = { threads: config.threads, backend, batchSize: config.evalBatchSize };
  const nonDigitRule = withNonDigits
    ? await fitNonDigitRule(model, valSet, { seed: config.seed, ...inference })
    : undefined;
  const predictionSets = await fitPredictionSets(model, valSet, {
    temperature: calibration.temperature,
    nonDigitBelow: nonDigitRule?.below,
    ...inference,
  });
  return { ...calibration, ...(nonDigitRule ? { nonDigitRule } : {}), predictionSets };
}

/**
 * The temperature of a finished run (metrics/calibration.ts): fitted on the validation split's
 * probabilities from the best model, by the one inference path. Inference only: the weights and
 * every random stream of training are untouched. Without a validation split (`valCount` 0, the
 * `fast` preset) there is nothing held out to fit on: T = 1, and metadata.json says why (the
 * test split is never used to fit anything).
 */
async function fitRunTemperature(
  model: tf.LayersModel,
  valSet: ImageSet,
  config: TrainConfig,
  backend: BackendName,
): Promise<Pick<RunMetadata, 'temperature' | 'temperatureFit'>> {
  if (valSet.count === 0) return NO_VALIDATION_TEMPERATURE;
  const inference = { threads: config.threads, backend, batchSize: config.evalBatchSize };
  return Predictor.withModel(model, inference, async (predictor) => {
    const probs = await predictor.probabilities(valSet, { calibrated: false });
    const { temperature, n, before, after } = temperatureFit(probs, valSet.labels, predictor.outputs);
    return { temperature, temperatureFit: { on: 'val' as const, n, before, after } };
  });
}

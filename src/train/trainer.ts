import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rm, symlink, rename, readlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../backend/index.js';
import { ModelReplicas } from '../backend/replicas.js';
import { loadMnist } from '../data/load.js';
import { seededSplitIndices, takeIndices } from '../data/split.js';
import type { Dataset } from '../data/types.js';
import { buildModel, INPUT_SHAPE } from '../model/architectures.js';
import { accuracyAndLoss, predictInParallel } from '../model/infer.js';
import { loadModel, saveModel } from '../model/io.js';
import { DEFAULT_RUNS_DIR, LATEST_LINK, RUN_FILES, writeMetadata, type RunMetadata } from '../model/run.js';
import { PREPROCESS_SPEC } from '../predict/preprocess.js';
import { UserError } from '../util/errors.js';
import { writeFileAtomic, writeJsonAtomic } from '../util/fs.js';
import { createRng, deriveSeed } from '../util/rng.js';
import { libraryVersions } from '../version.js';
import { BatchFiller, identityOrder } from './batches.js';
import { loadCheckpoint, saveCheckpoint, type TrainState } from './checkpoint.js';
import type { TrainConfig } from './config.js';
import { historyToCsv, type EpochRecord } from './history.js';
import { quietReporter, type TrainReporter } from './reporter.js';
import { learningRateAt } from './schedule.js';

/** Streams of randomness in a run, each derived from the seed (see deriveSeed); 1 and 2 are the split's (SPLIT_STREAMS). */
const STREAM = { init: 3, shuffle: 4, augment: 5, dropout: 6 } as const;

export const VAL_INDICES_FILE = 'val-indices.json';

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
   * Called after every optimizer step with the model being trained; returning 'stop' ends the
   * run there (no checkpoint). The benchmark uses it to time a run to a target accuracy.
   */
  afterStep?: (info: { model: tf.LayersModel; replicas: ModelReplicas; epoch: number; batch: number; step: number; batchesPerEpoch: number }) => 'stop' | void | Promise<'stop' | void>;
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

export class TrainingError extends Error {}

/** Train a fresh run. */
export async function train(options: TrainOptions): Promise<TrainResult> {
  const { config } = options;
  const dir = resolve(options.outDir ?? defaultRunDir(options.runsDir ?? DEFAULT_RUNS_DIR, config.arch));
  if (existsSync(join(dir, RUN_FILES.metadata)) || existsSync(join(dir, RUN_FILES.checkpoint))) {
    throw new UserError(`${dir} already holds a run: choose another --out, or continue it with --resume ${dir}`, dir);
  }
  await mkdir(dir, { recursive: true });
  await writeJsonAtomic(join(dir, RUN_FILES.config), config);
  return runTraining(dir, config, options, undefined);
}

/** Continue an interrupted run from its last checkpoint; it ends where an uninterrupted run would have. */
export async function resume(dir: string, options: Omit<TrainOptions, 'config' | 'outDir'> = {}): Promise<TrainResult> {
  const runDir = resolve(dir);
  const configPath = join(runDir, RUN_FILES.config);
  if (!existsSync(configPath)) throw new UserError(`${configPath} is missing: ${runDir} is not a run folder`, configPath);
  const config = JSON.parse(readFileSync(configPath, 'utf8')) as TrainConfig;
  const checkpointDir = join(runDir, RUN_FILES.checkpoint);
  if (!existsSync(checkpointDir)) throw new UserError(`${checkpointDir} is missing: nothing to resume`, checkpointDir);
  return runTraining(runDir, config, { ...options, config }, checkpointDir);
}

function defaultRunDir(runsDir: string, arch: string): string {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').replace('T', '_').slice(0, 19);
  return join(runsDir, `${stamp}-${arch}`);
}

function makeOptimizer(config: TrainConfig): tf.Optimizer {
  return config.optimizer === 'adam' ? tf.train.adam(config.lr) : tf.train.momentum(config.lr, config.momentum, true);
}

function setLearningRate(optimizer: tf.Optimizer, lr: number): void {
  // SGD and momentum cache -lr in a tensor (setLearningRate rebuilds it); Adam reads its
  // (protected) learningRate field at every step. (tfjs optimizers' instanceof matches by
  // serialisation name, not class, so ask for the method itself.)
  const sgd = optimizer as unknown as { setLearningRate?: (lr: number) => void; learningRate: number };
  if (typeof sgd.setLearningRate === 'function') sgd.setLearningRate(lr);
  else sgd.learningRate = lr;
}

/**
 * tfjs-layers' Dropout reuses one seed for every call, which would draw the same mask at every
 * step. Giving it a fresh seed derived from (run seed, epoch, batch) keeps runs repeatable.
 */
function reseedDropout(model: tf.LayersModel, seed: number, epoch: number, batch: number): void {
  model.layers.forEach((layer, i) => {
    if (layer.getClassName() === 'Dropout') (layer as unknown as { seed: number }).seed = deriveSeed(seed, STREAM.dropout, epoch, batch, i);
  });
}

/** The dropout seeds of another training thread's part of the batch (thread 0 uses reseedDropout's). */
function dropoutSeedsOfThread(model: tf.LayersModel, seed: number, epoch: number, batch: number, thread: number): number[] {
  return model.layers.flatMap((layer, i) => (layer.getClassName() === 'Dropout' ? [deriveSeed(seed, STREAM.dropout, epoch, batch, i, thread)] : []));
}

/**
 * Load saved optimizer state. Adam's setWeights recomputes beta^(t+1) with pow, while a run that
 * never stopped got there by t float32 multiplications; the two differ in the last bit, enough to
 * make a resumed run drift. Replaying the multiplications makes resume exact.
 */
async function restoreOptimizer(optimizer: tf.Optimizer, weights: { name: string; tensor: tf.Tensor }[]): Promise<void> {
  await optimizer.setWeights(weights);
  const adam = optimizer as unknown as { accBeta1?: tf.Variable; accBeta2?: tf.Variable; beta1: number; beta2: number; iterations: number };
  if (!adam.accBeta1 || !adam.accBeta2) return;
  const replay = (beta: number) => {
    let acc = Math.fround(beta);
    for (let t = 0; t < adam.iterations; t++) acc = Math.fround(acc * Math.fround(beta));
    return acc;
  };
  tf.tidy(() => {
    adam.accBeta1!.assign(tf.scalar(replay(adam.beta1)));
    adam.accBeta2!.assign(tf.scalar(replay(adam.beta2)));
  });
}

function freshState(): TrainState {
  return {
    epoch: 0,
    batch: 0,
    step: 0,
    history: [],
    bestEpoch: 0,
    bestValAccuracy: -1,
    epochsWithoutImprovement: 0,
    trainingSeconds: 0,
    partial: { loss: 0, correct: 0, seen: 0, seconds: 0 },
  };
}

async function runTraining(dir: string, config: TrainConfig, options: TrainOptions, checkpointDir: string | undefined): Promise<TrainResult> {
  const reporter = options.reporter ?? quietReporter;
  const backend = await initBackend(config.backend, { quiet: reporter === quietReporter });
  const data = options.data ?? (await loadMnist({ dataset: config.dataset, dataDir: config.dataDir ?? undefined, mirror: config.mirror ?? undefined }));
  const split = seededSplitIndices(data.train.labels, config);
  const trainSet = takeIndices(data.train, split.train);
  const valSet = takeIndices(data.train, split.val);
  await writeJsonAtomic(join(dir, VAL_INDICES_FILE), Array.from(split.val));

  let model: tf.LayersModel;
  let state: TrainState;
  const optimizer = makeOptimizer(config);
  if (checkpointDir) {
    const checkpoint = await loadCheckpoint(checkpointDir);
    model = checkpoint.model;
    state = checkpoint.state;
    await restoreOptimizer(optimizer, checkpoint.optimizerWeights);
    tf.dispose(checkpoint.optimizerWeights.map((w) => w.tensor));
  } else {
    model = buildModel(config.arch, deriveSeed(config.seed, STREAM.init));
    state = freshState();
  }
  const batchesPerEpoch = Math.ceil(trainSet.count / config.batchSize);
  const totalSteps = batchesPerEpoch * config.epochs;
  const createdAt = new Date().toISOString();
  const metadata = (): RunMetadata => ({
    format: 'mnist-cnn-run',
    formatVersion: 1,
    arch: config.arch,
    params: model.countParams(),
    createdAt,
    seed: config.seed,
    config: { ...config },
    versions: libraryVersions(),
    backend,
    data: {
      dataset: data.name,
      source: data.source,
      files: data.files,
      trainCount: trainSet.count,
      valCount: valSet.count,
      testCount: data.test.count,
    },
    preprocessing: PREPROCESS_SPEC,
    classNames: data.classNames,
    inputShape: INPUT_SHAPE,
    epochsCompleted: state.history.length,
    bestEpoch: state.bestEpoch,
    bestValAccuracy: state.bestValAccuracy,
    trainingSeconds: state.trainingSeconds,
  });

  reporter.start({
    dir,
    arch: config.arch,
    params: model.countParams(),
    trainCount: trainSet.count,
    valCount: valSet.count,
    epochs: config.epochs,
    resumedAt: checkpointDir ? { epoch: state.epoch, batch: state.batch } : undefined,
  });

  const replicas = await ModelReplicas.start(model, { threads: config.threads, backend, maxBatch: Math.max(config.batchSize, config.evalBatchSize) });
  const filler = new BatchFiller(config.batchSize, replicas.batch);
  let interrupted = false;
  let stoppedEarly = false;
  try {
    epochs: for (let epoch = state.epoch; epoch < config.epochs; epoch++) {
      const order = createRng(deriveSeed(config.seed, STREAM.shuffle, epoch)).shuffle(identityOrder(trainSet.count));
      const epochStart = performance.now() - state.partial.seconds * 1000;
      for (let batch = state.batch; batch < batchesPerEpoch; batch++) {
        const lr = learningRateAt(state.step, totalSteps, batchesPerEpoch, config);
        setLearningRate(optimizer, lr);
        const start = batch * config.batchSize;
        const end = Math.min(trainSet.count, start + config.batchSize);
        const augment = config.augment ? { rng: createRng(deriveSeed(config.seed, STREAM.augment, epoch, batch)), bounds: config } : undefined;
        const n = filler.fill(trainSet, order, start, end, augment);
        reseedDropout(model, config.seed, epoch, batch);
        const step = await replicas.step(n, optimizer, config.labelSmoothing, (thread) => dropoutSeedsOfThread(model, config.seed, epoch, batch, thread));
        // A NaN in either loss is reported as NaN.
        const loss = Number.isFinite(step.smoothedLoss) ? step.loss : step.smoothedLoss;
        const correct = step.correct;
        if (!Number.isFinite(loss)) {
          throw new TrainingError(`training diverged: the loss is ${loss} at epoch ${epoch + 1}, batch ${batch + 1} (try a lower --lr)`);
        }
        state.step++;
        state.batch = batch + 1;
        state.partial.loss += loss * n;
        state.partial.correct += correct;
        state.partial.seen += n;
        const elapsed = (performance.now() - epochStart) / 1000;
        reporter.batch({ epoch, epochs: config.epochs, batch, batches: batchesPerEpoch, loss: state.partial.loss / state.partial.seen, imagesPerSecond: state.partial.seen / Math.max(elapsed, 1e-9) });
        if ((await options.afterStep?.({ model, replicas, epoch, batch, step: state.step, batchesPerEpoch })) === 'stop') {
          interrupted = true;
          break epochs;
        }
        const stopRequested = options.signal?.aborted || (options.stopAfterSteps !== undefined && state.step >= options.stopAfterSteps);
        if (stopRequested && state.batch < batchesPerEpoch) {
          state.partial.seconds = elapsed;
          await saveCheckpoint(join(dir, RUN_FILES.checkpoint), model, optimizer, state);
          reporter.notice(`stopped at epoch ${epoch + 1}, batch ${batch + 1}; checkpoint saved. Continue with: mnist-cnn train --resume ${dir}`);
          interrupted = true;
          break epochs;
        }
      }

      const trainSeconds = (performance.now() - epochStart) / 1000;
      const val = valSet.count > 0 ? accuracyAndLoss(await predictInParallel(replicas, valSet, config.evalBatchSize), valSet.labels) : null;
      // (On wasm, ReLU turns a NaN into 0, so NaN batch-norm statistics show as chance-level
      // accuracy rather than here; backends that propagate NaN are caught.)
      if (val && !Number.isFinite(val.loss)) {
        throw new TrainingError(`training diverged: the validation loss is ${val.loss} after epoch ${epoch + 1}`);
      }
      const record: EpochRecord = {
        epoch: epoch + 1,
        loss: state.partial.loss / state.partial.seen,
        accuracy: state.partial.correct / state.partial.seen,
        val_loss: val?.loss ?? null,
        val_accuracy: val?.accuracy ?? null,
        lr: learningRateAt(Math.max(0, state.step - 1), totalSteps, batchesPerEpoch, config),
        seconds: trainSeconds,
      };
      const score = val?.accuracy ?? record.accuracy;
      const best = score > state.bestValAccuracy;
      if (best) {
        state.bestValAccuracy = score;
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
      await saveCheckpoint(join(dir, RUN_FILES.checkpoint), model, optimizer, state);
      await writeMetadata(dir, metadata());
      reporter.epoch({ ...record, best });

      if (config.earlyStopping > 0 && state.epochsWithoutImprovement >= config.earlyStopping && epoch + 1 < config.epochs) {
        reporter.notice(`early stopping: validation accuracy has not improved for ${config.earlyStopping} epochs`);
        stoppedEarly = true;
        break;
      }
      if (options.signal?.aborted || (options.stopAfterSteps !== undefined && state.step >= options.stopAfterSteps && epoch + 1 < config.epochs)) {
        reporter.notice(`stopped after epoch ${epoch + 1}; checkpoint saved. Continue with: mnist-cnn train --resume ${dir}`);
        interrupted = true;
        break;
      }
    }
  } finally {
    await replicas.close();
  }
  reporter.end();
  optimizer.dispose();

  const meta = metadata();
  if (!interrupted) meta.finishedAt = new Date().toISOString();
  if (stoppedEarly) meta.config = { ...meta.config, stoppedEarlyAtEpoch: state.epoch };
  await writeMetadata(dir, meta);
  if (options.updateLatest !== false) await pointLatestAt(dir);
  // Hand back the best model (the one saved in the run folder), not the last one.
  model.dispose();
  const bestModel = existsSync(join(dir, 'model.json')) ? await loadModel(dir) : buildModel(config.arch, deriveSeed(config.seed, STREAM.init));
  return { dir, metadata: meta, history: state.history, interrupted, model: bestModel, data };
}

/** runs/latest → the newest run (a relative symlink, replaced atomically). */
export async function pointLatestAt(dir: string): Promise<void> {
  const parent = dirname(dir);
  const link = join(parent, LATEST_LINK);
  const tmp = `${link}.tmp-${process.pid}`;
  try {
    await rm(tmp, { force: true });
    await symlink(basename(dir), tmp);
    await rename(tmp, link);
  } catch {
    // A filesystem without symlinks: runs/latest is a convenience, not a requirement.
    await rm(tmp, { force: true });
  }
}

export async function latestRunDir(runsDir = DEFAULT_RUNS_DIR): Promise<string | undefined> {
  try {
    return join(runsDir, await readlink(join(runsDir, LATEST_LINK)));
  } catch {
    return undefined;
  }
}


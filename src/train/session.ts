/**
 * A training run held in memory, step by step: what the page's Train panel runs in a browser
 * (in a Web Worker, on the wasm backend and our kernels, data-parallel over Web Workers), and
 * what runs in Node as well (its tests). The steps are trainer.ts's own (step.ts: the same
 * network, order, augmentation, learning rate and threads for a recipe); what differs is around
 * them: no run folder and no checkpoint, but pause, resume and stop between steps, progress
 * after every step, and the test set checked every quarter epoch (as `bench`'s time to 99%
 * does: bench/time-to-99.ts), with the validation split beside it when the recipe holds one
 * out. The test set only measures: nothing is chosen on it. The model handed back is the last
 * one, with the metadata.json the CLI reads (run-metadata.ts).
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendName } from '../backend/names.js';
import { ModelReplicas, type StartReplicaThread } from '../backend/replicas.js';
import { BatchFiller } from '../data/batches.js';
import { seededSplitIndices, takeIndices } from '../data/split.js';
import type { Dataset, ImageSet } from '../data/types.js';
import { temperatureFit } from '../metrics/calibration.js';
import { accuracyAndLoss } from '../metrics/classification.js';
import type { RunMetadata } from '../model/metadata.js';
import { predictSet } from '../predict/set-inference.js';
import { UserError } from '../util/errors.js';
import type { TrainConfig } from './config.js';
import { makeOptimizer } from './optimizer.js';
import { epochOrder } from './randomness.js';
import { NO_VALIDATION_TEMPERATURE, runMetadata } from './run-metadata.js';
import { learningRateAt } from './schedule.js';
import { newModel, optimizerStep, type StepRun } from './step.js';

/** Test-set checks per epoch (and one at the end): every quarter epoch, as bench/time-to-99.ts. */
export const CHECKS_PER_EPOCH = 4;

/** After each optimizer step. */
export interface StepProgress {
  /** Steps done, of `totalSteps`. */
  step: number;
  totalSteps: number;
  /** Epochs done, fractional (0.25 after a quarter epoch). */
  epoch: number;
  /** This step's mean plain cross-entropy and accuracy on its batch. */
  loss: number;
  accuracy: number;
  lr: number;
  /** Images trained on per second of training (checks and pauses left out). */
  imagesPerSecond: number;
  /** Seconds of training so far, and of checks (the test set, the validation split). */
  trainingSeconds: number;
  checkSeconds: number;
  /** Seconds since `run` began, pauses and checks included (when this step ended). */
  elapsedSeconds: number;
}

/** Accuracy and mean cross-entropy of the model on a set. */
interface SetScore {
  accuracy: number;
  loss: number;
}

/** A check of the model as it stands: on the test set, and on the validation split when the recipe holds one out. */
export interface Check {
  step: number;
  epoch: number;
  test: SetScore;
  val?: SetScore;
  /** Seconds the check took. */
  seconds: number;
}

export interface SessionOptions {
  config: TrainConfig;
  /** The data: its train split is split again by the recipe (`valCount`); its test set is checked. */
  data: Dataset;
  /** The backend, already started (recorded in the metadata). */
  backend: BackendName;
  /** What trained it, for the metadata (util/version.ts in Node; the page's bundle in a browser). */
  versions: Record<string, string>;
  /** How ModelReplicas starts its workers (needed for `config.threads` > 1). */
  startThread?: StartReplicaThread;
  /** After every step, with the model as it stands (its weights may be read, not changed). */
  onStep?: (progress: StepProgress, model: tf.LayersModel) => void | Promise<void>;
  onCheck?: (check: Check) => void;
}

export interface SessionResult {
  /** The model as training left it (the caller disposes it). */
  model: tf.LayersModel;
  /** metadata.json for it, but for `weightsSha256`, which whoever writes weights.bin adds. */
  metadata: RunMetadata;
  checks: Check[];
  /** Stopped before its last step. */
  stopped: boolean;
}

/** Yield to the event loop (a macrotask, unclamped), so that messages (pause, stop) get in between steps. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(null);
  });
}

export class TrainingSession {
  private pausedAt: number | undefined;
  private wake: (() => void) | undefined;
  private stopRequested = false;

  private constructor(
    private readonly options: SessionOptions,
    private readonly steps: StepRun,
    private readonly valSet: ImageSet,
  ) {}

  /** Build the network and its optimizer, and start its threads. */
  static async start(options: SessionOptions): Promise<TrainingSession> {
    const { config, data } = options;
    if (config.nonDigits > 0 || config.picturedDigits > 0)
      throw new UserError(
        'a training session trains on digits only: nonDigits and picturedDigits must be 0 (their pictures are drawn with Node-only tools)',
      );
    const split = seededSplitIndices(data.train.labels, config);
    const trainSet = takeIndices(data.train, split.train);
    const valSet = takeIndices(data.train, split.val);
    const model = newModel(config);
    const optimizer = makeOptimizer(config);
    const replicas = await ModelReplicas.start(model, {
      threads: config.threads,
      backend: options.backend,
      maxBatch: Math.max(config.batchSize, config.evalBatchSize),
      startThread: options.startThread,
    });
    const filler = new BatchFiller(config.batchSize, replicas.batch);
    return new TrainingSession(options, { config, model, optimizer, replicas, filler, trainSet }, valSet);
  }

  get model(): tf.LayersModel {
    return this.steps.model;
  }

  get threads(): number {
    return this.steps.replicas.threads;
  }

  /** What `run` will do: steps in all and per epoch, images trained on and held out for validation. */
  get plan(): { totalSteps: number; batchesPerEpoch: number; trainCount: number; valCount: number } {
    const batchesPerEpoch = Math.ceil(this.steps.trainSet.count / this.steps.config.batchSize);
    return {
      totalSteps: batchesPerEpoch * this.steps.config.epochs,
      batchesPerEpoch,
      trainCount: this.steps.trainSet.count,
      valCount: this.valSet.count,
    };
  }

  get paused(): boolean {
    return this.pausedAt !== undefined;
  }

  /** Hold before the next step (a step under way ends first). */
  pause(): void {
    this.pausedAt ??= performance.now();
  }

  resume(): void {
    this.pausedAt = undefined;
    this.wake?.();
  }

  /** End after the step under way (a paused session ends at once); `run` then checks and hands back the model. */
  stop(): void {
    this.stopRequested = true;
    this.resume();
  }

  /** Train to the recipe's last step, or until stopped; the threads are closed afterwards. */
  async run(): Promise<SessionResult> {
    const { config, data } = this.options;
    const { trainSet, replicas } = this.steps;
    const createdAt = new Date().toISOString();
    const runStarted = performance.now();
    const { batchesPerEpoch, totalSteps } = this.plan;
    const checkEvery = Math.ceil(batchesPerEpoch / CHECKS_PER_EPOCH);
    const checks: Check[] = [];
    let step = 0;
    let seen = 0;
    let right = 0;
    let trainingSeconds = 0;
    let checkSeconds = 0;
    const check = async () => {
      const started = performance.now();
      const scoreOn = async (set: ImageSet) =>
        accuracyAndLoss(
          await predictSet(replicas, set, { batchSize: config.evalBatchSize }),
          set.labels,
          replicas.outputs,
        );
      const test = await scoreOn(data.test);
      const val = this.valSet.count > 0 ? await scoreOn(this.valSet) : undefined;
      const seconds = (performance.now() - started) / 1000;
      checkSeconds += seconds;
      const done: Check = { step, epoch: step / batchesPerEpoch, test, ...(val ? { val } : {}), seconds };
      checks.push(done);
      this.options.onCheck?.(done);
    };
    try {
      epochs: for (let epoch = 0; epoch < config.epochs; epoch++) {
        const order = epochOrder(config.seed, epoch, trainSet.count);
        for (let batch = 0; batch < batchesPerEpoch; batch++) {
          if (!(await this.mayGoOn())) break epochs;
          const lr = learningRateAt(step, totalSteps, batchesPerEpoch, config);
          const started = performance.now();
          const { n, loss, correct } = await optimizerStep(this.steps, { epoch, batch, order, lr });
          trainingSeconds += (performance.now() - started) / 1000;
          if (!Number.isFinite(loss))
            throw new UserError(
              `training diverged: the loss is ${loss} at epoch ${epoch + 1}, batch ${batch + 1} (try a lower learning rate)`,
            );
          step++;
          seen += n;
          right += correct;
          const elapsedSeconds = (performance.now() - runStarted) / 1000;
          const progress = {
            step,
            totalSteps,
            epoch: step / batchesPerEpoch,
            loss,
            accuracy: correct / n,
            lr,
            imagesPerSecond: seen / Math.max(trainingSeconds, 1e-9),
            trainingSeconds,
            checkSeconds,
            elapsedSeconds,
          };
          await this.options.onStep?.(progress, this.steps.model);
          if (step % checkEvery === 0 || batch === batchesPerEpoch - 1) await check();
        }
      }
      // Stopped between checks: the model handed back is measured as it is.
      if (checks.at(-1)?.step !== step) await check();
      const val =
        this.valSet.count > 0
          ? await predictSet(replicas, this.valSet, { batchSize: config.evalBatchSize })
          : undefined;
      const last = checks[checks.length - 1];
      const epochsCompleted = Math.floor(step / batchesPerEpoch);
      const metadata: RunMetadata = {
        ...runMetadata({
          config,
          params: this.steps.model.countParams(),
          createdAt,
          backend: this.options.backend,
          versions: this.options.versions,
          data,
          trainCount: trainSet.count,
          valCount: this.valSet.count,
          // (A check ends each epoch: those are the epochs completed.)
          state: {
            history: checks.filter((c) => c.step > 0 && c.step % batchesPerEpoch === 0),
            bestEpoch: epochsCompleted,
            bestValAccuracy: last.val?.accuracy ?? right / Math.max(seen, 1),
            trainingSeconds,
          },
        }),
        test: { accuracy: last.test.accuracy, loss: last.test.loss, n: data.test.count },
        ...(val ? calibrationOn(val, this.valSet, replicas.outputs) : NO_VALIDATION_TEMPERATURE),
        ...(step === totalSteps ? { finishedAt: new Date().toISOString() } : {}),
      };
      return { model: this.steps.model, metadata, checks, stopped: step < totalSteps };
    } finally {
      this.steps.optimizer.dispose();
      await replicas.close();
    }
  }

  /** Between steps: let messages in, wait while paused; false once stopped. */
  private async mayGoOn(): Promise<boolean> {
    await nextTurn();
    while (this.pausedAt !== undefined && !this.stopRequested)
      await new Promise<void>((resolve) => (this.wake = resolve));
    return !this.stopRequested;
  }
}

/** The run's calibration temperature, fitted on the validation split's probabilities (as trainer.ts fits it). */
function calibrationOn(
  probs: Float32Array,
  valSet: ImageSet,
  outputs: number,
): Pick<RunMetadata, 'temperature' | 'temperatureFit'> {
  const { temperature, n, before, after } = temperatureFit(probs, valSet.labels, outputs);
  return { temperature, temperatureFit: { on: 'val', n, before, after } };
}

/**
 * The one inference path. A Predictor owns a model, the model-input contract it was trained
 * with (from its run's metadata.json), the threads it runs on, and the rule that turns
 * probabilities into answers. `predict`, `evaluate`, `serve`, the ensemble and TTA paths all go
 * through it: callers hand it image bytes, 28x28 pixels or whole image sets, and it applies
 * the run's own preprocessing spec, so none of them can forget it.
 *
 * Model calls are queued: one batch at a time runs on the threads' shared batch buffer, however
 * many requests await answers at once.
 */
import type * as tf from '@tensorflow/tfjs';
import { initBackend } from '../backend/index.js';
import type { BackendName } from '../backend/names.js';
import { ModelReplicas } from '../backend/replicas.js';
import { PREPROCESS_SPEC, type PreprocessSpec } from '../data/model-input.js';
import type { ImageSet } from '../data/types.js';
import { NUM_CLASSES } from '../data/types.js';
import { decodeImage } from '../image/decode.js';
import { preprocessImage, preprocessMnistPixels, type Preprocessed, type RawImage } from '../image/preprocess.js';
import { loadRun, type RunMetadata } from '../model/run.js';
import { UserError } from '../util/errors.js';
import { DEFAULT_MIN_CONFIDENCE, interpretProbabilities, type AnswerRule, type Prediction } from './interpret.js';
import { DEFAULT_INFER_BATCH, predictRowsOf, predictSet } from './set-inference.js';

export interface PredictorOptions {
  backend?: BackendName;
  /** Below this confidence the answer is `digit: null` instead of a likely wrong digit. */
  minConfidence?: number;
  /** Images per model call. */
  batchSize?: number;
  /** Threads that share each model call (1: the main thread only). */
  threads?: number;
}

export class Predictor {
  readonly rule: AnswerRule;
  private readonly batchSize: number;
  /** The tail of the queue of model calls. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    /** The run folder, when loaded from one. */
    readonly dir: string,
    /** The run's metadata.json; absent for a model handed over in memory without one. */
    readonly metadata: RunMetadata | undefined,
    private readonly replicas: ModelReplicas,
    private readonly ownsModel: boolean,
    options: PredictorOptions,
  ) {
    const minConfidence = options.minConfidence ?? DEFAULT_MIN_CONFIDENCE;
    if (!(minConfidence >= 0 && minConfidence <= 1)) throw new UserError(`minimum confidence ${options.minConfidence} is not between 0 and 1`);
    this.rule = { minConfidence };
    this.batchSize = options.batchSize ?? DEFAULT_INFER_BATCH;
    if (!Number.isInteger(this.batchSize) || this.batchSize < 1) throw new UserError(`batch size must be a whole number >= 1, got ${options.batchSize}`);
  }

  /** Start the backend (wasm unless told) and load a run folder (or runs/latest). */
  static async load(runDir: string, options: PredictorOptions = {}): Promise<Predictor> {
    const backend = await initBackend(options.backend ?? 'wasm');
    const run = await loadRun(runDir);
    return Predictor.start(run.model, run.dir, run.metadata, true, { ...options, backend });
  }

  /**
   * A model already in memory (right after training, or built in a test). The caller keeps
   * ownership of the model: `close` stops the threads but leaves the model alone.
   */
  static fromModel(model: tf.LayersModel, options: PredictorOptions & { dir?: string; metadata?: RunMetadata } = {}): Promise<Predictor> {
    return Predictor.start(model, options.dir ?? '', options.metadata, false, options);
  }

  private static async start(model: tf.LayersModel, dir: string, metadata: RunMetadata | undefined, ownsModel: boolean, options: PredictorOptions): Promise<Predictor> {
    const threads = options.threads ?? 1;
    const maxBatch = options.batchSize ?? DEFAULT_INFER_BATCH;
    const replicas = await ModelReplicas.start(model, { threads, backend: options.backend ?? 'wasm', maxBatch });
    try {
      return new Predictor(dir, metadata, replicas, ownsModel, options);
    } catch (err) {
      await replicas.close();
      throw err;
    }
  }

  get model(): tf.LayersModel {
    return this.replicas.model;
  }

  get threads(): number {
    return this.replicas.threads;
  }

  /** The preprocessing the model was trained with: every input goes through it. */
  get spec(): PreprocessSpec {
    return this.metadata?.preprocessing ?? PREPROCESS_SPEC;
  }

  /** A decoded picture → the model's input, with this model's spec. */
  preprocess(image: RawImage, options: { keepStages?: boolean } = {}): Preprocessed {
    return preprocessImage(image, { spec: this.spec, keepStages: options.keepStages });
  }

  /** 28x28 white-on-black bytes (MNIST form: IDX, CSV, `{pixels}`) → the model's input. */
  preprocessPixels(pixels: Uint8Array): Preprocessed {
    return preprocessMnistPixels(pixels, this.spec);
  }

  /** Image file bytes (PNG, JPEG, WebP, BMP, ...) → decoded → the model's input. */
  async preprocessBytes(bytes: Uint8Array, name: string, options: { keepStages?: boolean } = {}): Promise<Preprocessed> {
    return this.preprocess(await decodeImage(bytes, name), options);
  }

  /** Answers for preprocessed inputs, in batches. */
  async predict(inputs: Preprocessed[]): Promise<Prediction[]> {
    const probs = await this.enqueue(() => predictRowsOf(this.replicas, inputs.map((p) => p.input), this.batchSize));
    return inputs.map((p, i) => this.interpret(probs.subarray(i * NUM_CLASSES, (i + 1) * NUM_CLASSES), p.reason));
  }

  /** Class probabilities for a whole image set (n x 10, row-major); with `tta`, averaged over shifted views. */
  probabilities(set: ImageSet, options: { tta?: boolean } = {}): Promise<Float32Array> {
    return this.enqueue(() => predictSet(this.replicas, set, { batchSize: this.batchSize, tta: options.tta, spec: this.spec }));
  }

  /** One image's probabilities → its answer, by the one rule (interpret.ts). */
  interpret(row: ArrayLike<number>, notADigit?: string): Prediction {
    return interpretProbabilities(row, this.rule, notADigit);
  }

  /** Stop the threads; free the model when this Predictor loaded it. */
  async close(): Promise<void> {
    await this.queue.catch(() => undefined);
    await this.replicas.close();
    if (this.ownsModel) this.replicas.model.dispose();
  }

  private enqueue<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

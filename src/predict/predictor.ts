/**
 * The one inference path. A Predictor owns a model, the model-input contract it was trained
 * with (from its run's metadata.json), the threads it runs on, and the rule that turns
 * probabilities into answers. `predict`, `evaluate`, `serve`, the ensemble and TTA paths all go
 * through it: callers hand it image bytes, 28x28 pixels or whole image sets, and it applies
 * the run's own preprocessing spec, so none of them can forget it, and every probability it
 * hands out is calibrated by the run's temperature (`temperature`, metrics/calibration.ts).
 *
 * The model runs on a runtime (`runtime`): `onnx` (the default: the model converted in memory to
 * ONNX and run by ONNX Runtime, several times the images/s of TensorFlow.js's wasm backend:
 * `npm run bench -- --only infer`, docs/serving.md "Runtimes") or `tfjs` (the model itself, on
 * ModelReplicas' threads); `onnx` falls back to `tfjs`, with a one-line notice, where ONNX
 * Runtime does not load. Both give the same probabilities to about 1e-6, on every path (sets,
 * TTA, the run's spec, ensembles). `model` is always the TensorFlow.js model (the server serves
 * its files to the page).
 *
 * Model calls are queued: one batch at a time runs on the runner's shared batch buffer, however
 * many requests await answers at once. With micro-batching (`batchWindowMs`, the server's
 * default), predictions asked for while a model call runs, or within the window, are merged
 * into one call of up to `maxBatch` images: one call of 64 images costs far less than 64 calls
 * of one, and each caller gets exactly the answers it would have got alone.
 */
import type * as tf from '@tensorflow/tfjs';
import { DEFAULT_RUNTIME, type BackendName, type RuntimeName } from '../backend/names.js';
import { startOnnxFileRunner, startRunner, type ModelRunner } from '../backend/runner.js';
import { PREPROCESS_SPEC, type PreprocessSpec } from '../data/model-input.js';
import type { ImageSet } from '../data/types.js';
import { decodeImage } from '../image/decode.js';
import { preprocessImage, preprocessMnistPixels, type Preprocessed, type RawImage } from '../image/preprocess.js';
import { applyTemperature } from '../metrics/calibration.js';
import { releasedOnnxFile } from '../model/release.js';
import { loadRun, readMetadata, resolveRunDir, runTemperature, type RunMetadata } from '../model/run.js';
import { UserError } from '../util/errors.js';
import {
  answerRule,
  DEFAULT_MIN_CONFIDENCE,
  interpretProbabilities,
  type AnswerRule,
  type Prediction,
} from './interpret.js';
import { DEFAULT_INFER_BATCH, predictRowsOf, predictSet } from './set-inference.js';

export interface PredictorOptions {
  /** The TensorFlow.js backend (default wasm): loads the model, and runs it on the `tfjs` runtime. */
  backend?: BackendName;
  /**
   * What runs the model (default DEFAULT_RUNTIME, `onnx`): `onnx` (ONNX Runtime, falling back to
   * `tfjs` with a notice where it does not load) or `tfjs` (TensorFlow.js on `backend`).
   */
  runtime?: RuntimeName;
  /** Below this confidence the answer is `digit: null` instead of a likely wrong digit. */
  minConfidence?: number;
  /**
   * The calibration temperature applied to every answer's probabilities (default: the run's
   * metadata.json `temperature`, 1 when it has none).
   */
  temperature?: number;
  /** Images per model call. */
  batchSize?: number;
  /** Threads that share each model call (1: the main thread only): tfjs worker threads, or ONNX Runtime's intra-op threads. */
  threads?: number;
  /**
   * Micro-batching: merge `predict` calls that arrive within this many milliseconds (0: those
   * that arrive in the same turn of the event loop, or while a model call runs) into one model
   * call. Undefined: every `predict` call is a model call of its own.
   */
  batchWindowMs?: number;
  /** Most images in one merged model call (default 64). */
  maxBatch?: number;
  /**
   * Start quickly: where the run folder is a release (release.json, as the model shipped in the
   * package is) and the runtime is `onnx`, run its exported ONNX file as it is, without loading
   * TensorFlow.js. Such a Predictor answers as any other, but has no `model` and gives only
   * calibrated probabilities. Ignored (the model is loaded as usual) with another `temperature`.
   */
  quickStart?: boolean;
}

/** Callers waiting for a merged model call. */
interface Waiting {
  inputs: Preprocessed[];
  resolve: (predictions: Prediction[]) => void;
  reject: (err: unknown) => void;
  /** When the caller asked (performance.now()). */
  since: number;
}

/** A model call of `predict`: the images it reads, and how long each caller waited for it to start (s). */
export interface ModelCall {
  /** Images the call reads (micro-batching merges callers' images into one call). */
  images: number;
  /** For each caller the call answers, the seconds from its `predict` to the call's start. */
  waitSeconds: number[];
}

const DEFAULT_MAX_BATCH = 64;

export class Predictor {
  readonly rule: AnswerRule;
  /**
   * The calibration temperature T: every probability this Predictor hands out is
   * softmax(log p / T) of the model's p (metrics/calibration.ts), so `confidence` is a calibrated
   * probability. The argmax, hence the digit, is the model's.
   */
  readonly temperature: number;
  /** Model calls made by `predict` and the images they read (what micro-batching saves shows here). */
  readonly calls = { count: 0, images: 0 };
  /** Told of each model call `predict` makes (the server's metrics). */
  private readonly callListeners = new Set<(call: ModelCall) => void>();
  private readonly batchSize: number;
  /** The tail of the queue of model calls. */
  private queue: Promise<unknown> = Promise.resolve();
  private readonly batchWindowMs: number | undefined;
  private readonly maxBatch: number;
  /** Micro-batching: callers gathered for the next merged call, and their image count. */
  private waiting: Waiting[] = [];
  private waitingImages = 0;
  private flushTimer: ReturnType<typeof setTimeout> | ReturnType<typeof setImmediate> | undefined;

  private constructor(
    /** The run folder, when loaded from one. */
    readonly dir: string,
    /** The run's metadata.json; absent for a model handed over in memory without one. */
    readonly metadata: RunMetadata | undefined,
    /** The TensorFlow.js model (absent when started from an exported file: `quickStart`). */
    private readonly layersModel: tf.LayersModel | undefined,
    private readonly runner: ModelRunner,
    private readonly ownsModel: boolean,
    options: PredictorOptions,
    /** The temperature already folded into the runner's probabilities (an exported file), if any. */
    private readonly foldedTemperature?: number,
  ) {
    const minConfidence = options.minConfidence ?? DEFAULT_MIN_CONFIDENCE;
    if (!(minConfidence >= 0 && minConfidence <= 1))
      throw new UserError(`minimum confidence ${options.minConfidence} is not between 0 and 1`);
    this.temperature =
      options.temperature ?? (metadata ? runTemperature(metadata, dir ? `${dir}/metadata.json` : undefined) : 1);
    if (!(Number.isFinite(this.temperature) && this.temperature > 0))
      throw new UserError(`temperature ${options.temperature} is not a positive number`);
    // A run trained with non-digits brings its not-a-digit threshold (metadata.json), fitted on the
    // model's own probabilities: divided by T, it applies to the calibrated ones (interpret.ts notADigitScore).
    // And its prediction sets, fitted on the probabilities at the run's temperature (at another one, none).
    this.rule = answerRule(minConfidence, this.temperature, metadata?.nonDigitRule, metadata?.predictionSets);
    this.batchSize = options.batchSize ?? DEFAULT_INFER_BATCH;
    if (!Number.isInteger(this.batchSize) || this.batchSize < 1)
      throw new UserError(`batch size must be a whole number >= 1, got ${options.batchSize}`);
    this.batchWindowMs = options.batchWindowMs;
    if (this.batchWindowMs !== undefined && !(this.batchWindowMs >= 0 && this.batchWindowMs <= 1000))
      throw new UserError(`batch window must be from 0 to 1000 ms, got ${options.batchWindowMs}`);
    this.maxBatch = Math.min(options.maxBatch ?? DEFAULT_MAX_BATCH, this.batchSize);
    if (!Number.isInteger(this.maxBatch) || this.maxBatch < 1)
      throw new UserError(`max batch must be a whole number >= 1, got ${options.maxBatch}`);
  }

  /**
   * Start the backend (wasm unless told), load a run folder (or runs/latest, or a shipped
   * model's name) and start its runtime; with `quickStart`, a release's exported file instead.
   */
  static async load(runDir: string, options: PredictorOptions = {}): Promise<Predictor> {
    if (options.quickStart && (options.runtime ?? DEFAULT_RUNTIME) === 'onnx') {
      const quick = await Predictor.startExported(runDir, options);
      if (quick) return quick;
    }
    // Imported here: a quick start never loads TensorFlow.js.
    const { initBackend } = await import('../backend/index.js');
    const backend = await initBackend(options.backend ?? 'wasm');
    const run = await loadRun(runDir);
    return Predictor.start(run.model, run.dir, run.metadata, true, { ...options, backend });
  }

  /** A release's exported ONNX file on ONNX Runtime (quickStart), or undefined where that cannot be. */
  private static async startExported(runDir: string, options: PredictorOptions): Promise<Predictor | undefined> {
    const dir = resolveRunDir(runDir);
    const metadata = await readMetadata(dir);
    const temperature = runTemperature(metadata, `${dir}/metadata.json`);
    if (options.temperature !== undefined && options.temperature !== temperature) return undefined;
    const file = await releasedOnnxFile(dir, metadata);
    return file && Predictor.fromOnnxFile(dir, file, options);
  }

  /**
   * A run folder with an ONNX file `export` wrote of it (its temperature folded in: the float file
   * or its int8 copy), run as it is on ONNX Runtime with the run's spec and answer rule, without
   * TensorFlow.js; undefined, with a notice, where ONNX Runtime does not load.
   */
  static async fromOnnxFile(
    runDir: string,
    file: Uint8Array,
    options: PredictorOptions = {},
  ): Promise<Predictor | undefined> {
    const dir = resolveRunDir(runDir);
    const metadata = await readMetadata(dir);
    const temperature = runTemperature(metadata, `${dir}/metadata.json`);
    if (options.temperature !== undefined && options.temperature !== temperature)
      throw new UserError(
        `an exported ONNX file of ${dir} has its temperature ${temperature} folded in: it cannot answer at temperature ${options.temperature}`,
      );
    const runner = await startOnnxFileRunner(file, {
      threads: options.threads ?? 1,
      maxBatch: options.batchSize ?? DEFAULT_INFER_BATCH,
    });
    if (!runner) return undefined;
    try {
      return new Predictor(dir, metadata, undefined, runner, false, options, temperature);
    } catch (err) {
      await runner.close();
      throw err;
    }
  }

  /**
   * A model already in memory (right after training, or built in a test). The caller keeps
   * ownership of the model: `close` stops the threads but leaves the model alone.
   */
  static fromModel(
    model: tf.LayersModel,
    options: PredictorOptions & { dir?: string; metadata?: RunMetadata } = {},
  ): Promise<Predictor> {
    return Predictor.start(model, options.dir ?? '', options.metadata, false, options);
  }

  /**
   * `work` with a Predictor over a model in memory, closed afterwards whatever happens: the fits
   * made on a model right after training (its temperature, not-a-digit threshold, prediction sets).
   */
  static async withModel<T>(
    model: tf.LayersModel,
    options: PredictorOptions,
    work: (predictor: Predictor) => Promise<T>,
  ): Promise<T> {
    const predictor = await Predictor.fromModel(model, options);
    try {
      return await work(predictor);
    } finally {
      await predictor.close();
    }
  }

  private static async start(
    model: tf.LayersModel,
    dir: string,
    metadata: RunMetadata | undefined,
    ownsModel: boolean,
    options: PredictorOptions,
  ): Promise<Predictor> {
    const threads = options.threads ?? 1;
    const maxBatch = options.batchSize ?? DEFAULT_INFER_BATCH;
    const runner = await startRunner(model, {
      runtime: options.runtime ?? DEFAULT_RUNTIME,
      threads,
      backend: options.backend ?? 'wasm',
      maxBatch,
    });
    try {
      return new Predictor(dir, metadata, model, runner, ownsModel, options);
    } catch (err) {
      await runner.close();
      throw err;
    }
  }

  /** The TensorFlow.js model, whatever the runtime; a Predictor started from an exported file (`quickStart`) has none. */
  get model(): tf.LayersModel {
    if (!this.layersModel)
      throw new Error(
        `this Predictor runs ${this.dir}'s exported ONNX file (quickStart) and has no TensorFlow.js model: load it without quickStart`,
      );
    return this.layersModel;
  }

  get threads(): number {
    return this.runner.threads;
  }

  /**
   * Probabilities per image in `probabilities`' rows: 10, or 11 for a model trained with
   * non-digits (the ten digits, then "not a digit": data/types.ts `NOT_A_DIGIT`).
   */
  get outputs(): number {
    return this.runner.outputs;
  }

  /** What runs the model: the runtime asked for, or `tfjs` after a fallback. */
  get runtime(): RuntimeName {
    return this.runner.runtime;
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
  async preprocessBytes(
    bytes: Uint8Array,
    name: string,
    options: { keepStages?: boolean } = {},
  ): Promise<Preprocessed> {
    return this.preprocess(await decodeImage(bytes, name), options);
  }

  /** Answers for preprocessed inputs, in batches (merged with other callers' with micro-batching). */
  async predict(inputs: Preprocessed[]): Promise<Prediction[]> {
    if (this.batchWindowMs === undefined || inputs.length === 0) return this.run(inputs, [performance.now()]);
    return new Promise((resolve, reject) => {
      this.waiting.push({ inputs, resolve, reject, since: performance.now() });
      this.waitingImages += inputs.length;
      if (this.waitingImages >= this.maxBatch) this.flush();
      else
        this.flushTimer ??=
          this.batchWindowMs! > 0
            ? setTimeout(() => this.flush(), this.batchWindowMs)
            : setImmediate(() => this.flush());
    });
  }

  /** Tell `listener` of each model call `predict` makes, until the function returned is called. */
  onModelCall(listener: (call: ModelCall) => void): () => void {
    this.callListeners.add(listener);
    return () => this.callListeners.delete(listener);
  }

  /** One model call (queued) for these inputs, and their answers; `since`: when each caller asked (performance.now()). */
  private async run(inputs: Preprocessed[], since: number[]): Promise<Prediction[]> {
    this.calls.count++;
    this.calls.images += inputs.length;
    const call = () => {
      if (this.callListeners.size > 0) {
        const now = performance.now();
        const waitSeconds = since.map((t) => (now - t) / 1000);
        for (const listener of this.callListeners) listener({ images: inputs.length, waitSeconds });
      }
      return predictRowsOf(
        this.runner,
        inputs.map((p) => p.input),
        this.batchSize,
      );
    };
    const probs = this.calibrate(await this.enqueue(call));
    const width = this.outputs;
    return inputs.map((p, i) => this.interpret(probs.subarray(i * width, (i + 1) * width), p.reason));
  }

  /** Send the gathered callers' inputs as one model call and hand each caller its own answers. */
  private flush(): void {
    if (this.flushTimer !== undefined) {
      clearTimeout(this.flushTimer as ReturnType<typeof setTimeout>);
      clearImmediate(this.flushTimer as ReturnType<typeof setImmediate>);
      this.flushTimer = undefined;
    }
    const group = this.waiting;
    this.waiting = [];
    this.waitingImages = 0;
    if (group.length === 0) return;
    this.run(
      group.flatMap((g) => g.inputs),
      group.map((g) => g.since),
    ).then(
      (predictions) => {
        let next = 0;
        for (const caller of group) {
          caller.resolve(predictions.slice(next, next + caller.inputs.length));
          next += caller.inputs.length;
        }
      },
      (err) => group.forEach((caller) => caller.reject(err)),
    );
  }

  /**
   * Class probabilities for a whole image set (n x `outputs`, row-major), calibrated by the temperature
   * unless `calibrated: false` (what the temperature is fitted on, and what `evaluate` compares
   * against). With `tta`, the model's probabilities are averaged over shifted views first and the
   * temperature applies to the mean, as it applies to an ensemble's mean.
   */
  async probabilities(set: ImageSet, options: { tta?: boolean; calibrated?: boolean } = {}): Promise<Float32Array> {
    if (options.calibrated === false && this.foldedTemperature !== undefined)
      throw new Error(
        `this Predictor runs ${this.dir}'s exported ONNX file (quickStart), whose probabilities are calibrated: load it without quickStart for the model's own`,
      );
    const probs = await this.enqueue(() =>
      predictSet(this.runner, set, { batchSize: this.batchSize, tta: options.tta, spec: this.spec }),
    );
    return options.calibrated === false ? probs : this.calibrate(probs);
  }

  /**
   * The model's probabilities (rows of `outputs`) → calibrated by this Predictor's temperature
   * (T = 1: the same array). With the not-a-digit output the temperature applies to all eleven,
   * as it was fitted (on the validation digits' eleven outputs).
   */
  calibrate(probs: Float32Array): Float32Array {
    // An exported file's probabilities come calibrated (quickStart only starts one at this temperature).
    if (this.foldedTemperature !== undefined || this.temperature === 1) return probs;
    return applyTemperature(probs, this.temperature, this.outputs);
  }

  /** One image's probabilities → its answer, by the one rule (interpret.ts). */
  interpret(row: ArrayLike<number>, notADigit?: string): Prediction {
    return interpretProbabilities(row, this.rule, notADigit);
  }

  /** Stop the threads; free the model when this Predictor loaded it. */
  async close(): Promise<void> {
    this.flush();
    await this.queue.catch(() => undefined);
    await this.runner.close();
    if (this.ownsModel) this.layersModel?.dispose();
  }

  private enqueue<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

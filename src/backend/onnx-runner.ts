import type * as tf from '@tensorflow/tfjs';
import type { InferenceSession } from 'onnxruntime-node';
import { INPUT_SHAPE, PIXELS } from '../data/types.js';

/**
 * The `onnx` inference runtime: a TensorFlow.js layers model converted in memory to ONNX
 * (model/onnx.ts, the converter `export` uses, which matches TensorFlow.js to about 1e-6) and run
 * by ONNX Runtime's CPU build (onnxruntime-node) on the main thread plus `threads - 1` of its own
 * intra-op threads. It takes the same batch buffer and `predict(n, out)` as ModelReplicas, so the
 * one inference path (predict/set-inference.ts) runs on either.
 *
 * The weights are copied into the ONNX model when it starts: later changes to the tfjs model's
 * weights are not seen (start another runner), as a ModelReplicas' workers do not see them
 * without `weightsChanged`.
 */

/**
 * ONNX Runtime 1.30 on Linux starts Microsoft's telemetry client (1DS) when a process creates its
 * first session; that client opens an empty `mat-debug-<pid>.log` in the system temp folder, one
 * per process, never removed, and would send usage events. ORT_DISABLE_TELEMETRY, read then,
 * turns the client off (onnxruntime's `IsTelemetryDisabledByEnvironment`): set here, before any
 * session (export's check imports this module too). A value the user set is kept.
 */
process.env.ORT_DISABLE_TELEMETRY ??= '1';

/** What `import('onnxruntime-node')` gives. */
type OnnxRuntimeModule = typeof import('onnxruntime-node');
type OnnxRuntimeLoader = () => Promise<OnnxRuntimeModule>;

const importOnnxRuntime: OnnxRuntimeLoader = () => import('onnxruntime-node');
let loader: OnnxRuntimeLoader = importOnnxRuntime;

/**
 * Import onnxruntime-node, lazily: its native binary loads here, so a missing or broken binary
 * is an error that `startRunner` can turn into a fallback, not a crash when the program starts.
 */
export function loadOnnxRuntime(): Promise<OnnxRuntimeModule> {
  return loader();
}

/**
 * For tests only: replace how onnxruntime-node is imported (e.g. a function that throws, to act
 * out a binary that does not load); no argument restores the real import.
 */
export function setOnnxRuntimeLoader(replacement?: OnnxRuntimeLoader): void {
  loader = replacement ?? importOnnxRuntime;
}

/**
 * The session options of every ONNX Runtime session here (the runtime and export's check): CPU,
 * `threads` intra-op threads (the caller's thread is one of them), ops one after another, every
 * graph optimisation (conv + batch-norm fusion, ...).
 */
export function onnxSessionOptions(threads: number): InferenceSession.SessionOptions {
  return {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  };
}

export interface OnnxRunnerOptions {
  /** ONNX Runtime intra-op threads that share each call (1: the calling thread only). */
  threads: number;
  /** Most images in one call: the size of the batch buffer. */
  maxBatch: number;
  /** Divide the logits of the model's softmax by this (as `export` folds a run's temperature in). */
  temperature?: number;
}

/**
 * Images per ONNX Runtime call that ran fastest. The 10,000 test images through the Predictor,
 * 2 threads: calls of 64 beat calls of 256 and 1,024, by most for the compact net (the default
 * net's working set stays in cache, so its call size matters less). TensorFlow.js's wasm backend
 * prefers large calls, so this is ONNX's own.
 */
const ONNX_BEST_CALL_SIZE = 64;

function checkRunnerOptions({ threads, maxBatch }: OnnxRunnerOptions): void {
  if (!Number.isInteger(threads) || threads < 1)
    throw new RangeError(`threads must be a whole number >= 1, got ${threads}`);
  if (!Number.isInteger(maxBatch) || maxBatch < 1)
    throw new RangeError(`maxBatch must be a whole number >= 1, got ${maxBatch}`);
}

/** A ModelRunner (runner.ts; structurally, as runner.ts imports this file). */
export class OnnxRunner {
  readonly runtime = 'onnx' as const;
  readonly bestCallSize = ONNX_BEST_CALL_SIZE;
  /** The images of the next call, NHWC float32 at the model's scale: fill the first n rows, then `predict(n, ...)`. */
  readonly batch: { x: Float32Array };

  private constructor(
    private readonly ort: OnnxRuntimeModule,
    private readonly session: InferenceSession,
    readonly maxBatch: number,
    readonly threads: number,
    readonly outputs: number,
  ) {
    this.batch = { x: new Float32Array(maxBatch * PIXELS) };
  }

  /**
   * Convert `model` (the backend must be started: its weights are read from it) and open an ONNX
   * Runtime session on the bytes. Throws a UserError when the model has a layer with no ONNX
   * translation, and whatever onnxruntime-node throws when it does not load (`ort` defaults to
   * `loadOnnxRuntime()`).
   */
  static async start(model: tf.LayersModel, options: OnnxRunnerOptions, ort?: OnnxRuntimeModule): Promise<OnnxRunner> {
    checkRunnerOptions(options);
    // Imported here, not at the top: the converter needs TensorFlow.js, which `fromFile` never loads.
    const [{ layersModelToOnnx }, { outputCount }] = await Promise.all([
      import('../model/onnx.js'),
      import('../model/architectures.js'),
    ]);
    const bytes = layersModelToOnnx(model, { temperature: options.temperature });
    const runtime = ort ?? (await loadOnnxRuntime());
    const session = await runtime.InferenceSession.create(bytes, onnxSessionOptions(options.threads));
    return new OnnxRunner(runtime, session, options.maxBatch, options.threads, outputCount(model));
  }

  /**
   * An ONNX file the project exported (`export`: input [N,28,28,1], probabilities first), run
   * as it is: no TensorFlow.js is loaded, so this is the quickest start. Its outputs are counted
   * by one call on a blank image.
   */
  static async fromFile(bytes: Uint8Array, options: OnnxRunnerOptions, ort?: OnnxRuntimeModule): Promise<OnnxRunner> {
    checkRunnerOptions(options);
    const runtime = ort ?? (await loadOnnxRuntime());
    const session = await runtime.InferenceSession.create(bytes, onnxSessionOptions(options.threads));
    const probe = await session.run({
      [session.inputNames[0]]: new runtime.Tensor('float32', new Float32Array(PIXELS), [1, ...INPUT_SHAPE]),
    });
    return new OnnxRunner(
      runtime,
      session,
      options.maxBatch,
      options.threads,
      probe[session.outputNames[0]].data.length,
    );
  }

  /** The model's probabilities for the first n rows of the batch, written to `out` (n x outputs). */
  async predict(n: number, out: Float32Array): Promise<void> {
    if (n === 0) return;
    if (!Number.isInteger(n) || n < 0 || n > this.maxBatch)
      throw new RangeError(`a call takes 0 to ${this.maxBatch} images, got ${n}`);
    const input = new this.ort.Tensor('float32', this.batch.x.subarray(0, n * PIXELS), [n, ...INPUT_SHAPE]);
    const result = await this.session.run({ [this.session.inputNames[0]]: input });
    const probabilities = result[this.session.outputNames[0]].data as Float32Array;
    out.set(probabilities.subarray(0, n * this.outputs));
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}

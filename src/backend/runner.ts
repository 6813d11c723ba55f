import type * as tf from '@tensorflow/tfjs';
import { UserError } from '../util/errors.js';
import type { BackendName, RuntimeName } from './names.js';

/**
 * A model ready for batched inference, whatever runs it: ModelReplicas (TensorFlow.js on
 * `threads` threads) or OnnxRunner (the model converted to ONNX, run by ONNX Runtime). Fill the
 * first n rows of `batch.x` (NHWC, at the model's scale), then `predict(n, out)` writes n rows of
 * `outputs` probabilities. One call at a time: the batch buffer is shared (Predictor queues its calls).
 */
export interface ModelRunner {
  readonly batch: { x: Float32Array };
  /** Most images in one call: the batch buffer's size. */
  readonly maxBatch: number;
  /** Threads that share each call. */
  readonly threads: number;
  /** Probabilities per image: 10, or 11 for a model with the not-a-digit output (model/architectures.ts `outputCount`). */
  readonly outputs: number;
  /** Images per call that run fastest, when smaller than `maxBatch` (whole sets are cut into calls of this size). */
  readonly bestCallSize?: number;
  /** What runs the model (`onnx` asked for may be `tfjs` after a fallback). */
  readonly runtime: RuntimeName;
  predict(n: number, out: Float32Array): Promise<void>;
  close(): Promise<void>;
}

export interface RunnerOptions {
  /** Default `tfjs`. */
  runtime?: RuntimeName;
  threads: number;
  maxBatch: number;
  /** The TensorFlow.js backend of the `tfjs` runtime (and of a fallback to it). */
  backend: BackendName;
}

/** The first line of an error's message, for a one-line notice. */
function reason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n')[0].trim() || 'unknown error';
}

/**
 * Start `model` on the runtime asked for. `onnx` falls back to `tfjs`, printing one line to
 * stderr that says why, when onnxruntime-node does not load here (no binary for this platform,
 * a missing shared library, a session that cannot be created) or when the model has a layer with
 * no ONNX translation: a default runtime never stops a model that TensorFlow.js can run.
 */
export async function startRunner(model: tf.LayersModel, options: RunnerOptions): Promise<ModelRunner> {
  const { threads, maxBatch, backend } = options;
  // Imported when used: the `onnx` runtime never loads the tfjs threads' code.
  const tfjs = async () => (await import('./replicas.js')).ModelReplicas.start(model, { threads, backend, maxBatch });
  if ((options.runtime ?? 'tfjs') === 'tfjs') return tfjs();
  const { OnnxRunner, loadOnnxRuntime } = await import('./onnx-runner.js');
  let ort: Awaited<ReturnType<typeof loadOnnxRuntime>>;
  try {
    ort = await loadOnnxRuntime();
  } catch (err) {
    console.error(`notice: ONNX Runtime does not load here (${reason(err)}); using TensorFlow.js`);
    return tfjs();
  }
  try {
    return await OnnxRunner.start(model, { threads, maxBatch }, ort);
  } catch (err) {
    if (err instanceof RangeError) throw err;
    const why = err instanceof UserError ? `model '${model.name}' does not convert to ONNX (${reason(err)})` : `ONNX Runtime does not load here (${reason(err)})`;
    console.error(`notice: ${why}; using TensorFlow.js`);
    return tfjs();
  }
}

/**
 * An exported ONNX file (`export`) on ONNX Runtime, with no TensorFlow.js at all: undefined, with
 * the one-line notice, where ONNX Runtime does not load, so that the caller loads the model
 * itself instead (startRunner).
 */
export async function startOnnxFileRunner(bytes: Uint8Array, options: { threads: number; maxBatch: number }): Promise<ModelRunner | undefined> {
  const { OnnxRunner, loadOnnxRuntime } = await import('./onnx-runner.js');
  try {
    return await OnnxRunner.fromFile(bytes, options, await loadOnnxRuntime());
  } catch (err) {
    if (err instanceof RangeError) throw err;
    console.error(`notice: ONNX Runtime does not load here (${reason(err)}); using TensorFlow.js`);
    return undefined;
  }
}

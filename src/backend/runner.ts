import type * as tf from '@tensorflow/tfjs';
import { UserError } from '../util/errors.js';
import type { ModelRunner } from './model-runner.js';
import type { BackendName, RuntimeName } from './names.js';

export type { ModelRunner } from './model-runner.js';

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
  const tfjs = async () => {
    const [{ ModelReplicas }, { startNodeReplicaThread }] = await Promise.all([
      import('./replicas.js'),
      import('./node-replica-thread.js'),
    ]);
    return ModelReplicas.start(model, { threads, backend, maxBatch, startThread: startNodeReplicaThread });
  };
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
    const why =
      err instanceof UserError
        ? `model '${model.name}' does not convert to ONNX (${reason(err)})`
        : `ONNX Runtime does not load here (${reason(err)})`;
    console.error(`notice: ${why}; using TensorFlow.js`);
    return tfjs();
  }
}

/**
 * An exported ONNX file (`export`) on ONNX Runtime, with no TensorFlow.js at all: undefined, with
 * the one-line notice, where ONNX Runtime does not load, so that the caller loads the model
 * itself instead (startRunner).
 */
export async function startOnnxFileRunner(
  bytes: Uint8Array,
  options: { threads: number; maxBatch: number },
): Promise<ModelRunner | undefined> {
  const { OnnxRunner, loadOnnxRuntime } = await import('./onnx-runner.js');
  try {
    return await OnnxRunner.fromFile(bytes, options, await loadOnnxRuntime());
  } catch (err) {
    if (err instanceof RangeError) throw err;
    console.error(`notice: ONNX Runtime does not load here (${reason(err)}); using TensorFlow.js`);
    return undefined;
  }
}

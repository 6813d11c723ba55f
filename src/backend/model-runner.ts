import type { RuntimeName } from './names.js';

/**
 * A model ready for batched inference, whatever runs it: ModelReplicas (TensorFlow.js on
 * `threads` threads) or OnnxRunner (the model converted to ONNX, run by ONNX Runtime). Fill the
 * first n rows of `batch.x` (NHWC, at the model's scale), then `predict(n, out)` writes n rows of
 * `outputs` probabilities. One call at a time: the batch buffer is shared (Predictor queues its calls).
 * (Apart from runner.ts, which loads ONNX Runtime: predict/set-inference.ts runs in a browser too.)
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

/**
 * The TensorFlow.js backends `initBackend` starts (backend/index.ts). Kept apart from
 * TensorFlow.js so that the command line can offer the choices without loading it.
 */
export const BACKENDS = ['wasm', 'cpu', 'tensorflow'] as const;
export type BackendName = (typeof BACKENDS)[number];

/**
 * The inference runtimes a Predictor runs its model on (backend/runner.ts `startRunner`):
 * `tfjs`, the model itself on TensorFlow.js (ModelReplicas, on the backend above), and `onnx`,
 * the same model converted in memory to ONNX and run by ONNX Runtime (onnxruntime-node), falling
 * back to `tfjs` with a one-line notice where its binary does not load. Training is always tfjs.
 */
export const RUNTIMES = ['tfjs', 'onnx'] as const;
export type RuntimeName = (typeof RUNTIMES)[number];
/**
 * The runtime of inference unless told (predict, evaluate, serve, the bench, Predictor): ONNX
 * Runtime, several times the images/s of TensorFlow.js's wasm backend for batch inference and
 * faster over HTTP (`npm run bench -- --only infer,http`; docs/serving.md "Runtimes"). Where its
 * binary does not load, inference runs on `tfjs` after a one-line notice (backend/runner.ts).
 * Training is always tfjs.
 */
export const DEFAULT_RUNTIME: RuntimeName = 'onnx';

/**
 * The kernel of one Adam step for one variable (inputs value, m, v, gradient; attrs beta1, beta2,
 * c1 = 1 - β1^t, c2 = 1 - β2^t, epsilon, lr; outputs the new value, m and v): registered on the
 * wasm backend (backend/adam.ts), used by train/adam.ts where it is.
 */
export const ADAM_UPDATE_KERNEL = 'AdamUpdate';

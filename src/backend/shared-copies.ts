import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { callStock, type TensorInfo } from './wasm-calls.js';

interface CopyArgs {
  inputs: { x: TensorInfo };
  backend: BackendWasm;
  attrs?: Partial<tf.CastAttrs>;
}

/**
 * Identity, and Cast to the dtype a tensor already has, as a new reference to the same data
 * (what the cpu backend's Identity and the wasm backend's own Reshape do), not a copy. Tensors
 * are immutable and no kernel writes into an input, so sharing is safe; the backend frees the
 * memory when the last reference goes. While gradients are recorded, the engine clones every
 * tensor it saves for the backward pass (10 clones of [128, 14, 14, 64] and 3 of
 * [128, 28, 28, 32] per step of the default architecture) and the ReLU and square gradients
 * cast float32 masks to float32; the stock wasm kernels copied each one (~6 MB memcpy apiece).
 * A/B in one process (one thread, CPU time, alternating Adam steps): sharing Identity made a
 * step of the default architecture at batch 128 and of the compact one at batch 64 several
 * percent faster; sharing same-dtype Cast saved a little more. Bench: `npm run bench:kernels`.
 */
export function identitySharingData({ inputs, backend }: CopyArgs): TensorInfo {
  const { x } = inputs;
  if (x.dtype === 'string') return callStock(backend, 'Identity', inputs);
  return shareData(backend, x);
}

export function castSharingData({ inputs, backend, attrs }: CopyArgs): TensorInfo {
  const { x } = inputs;
  if (x.dtype === 'string' || attrs?.dtype !== x.dtype) return callStock(backend, 'Cast', inputs, attrs);
  return shareData(backend, x);
}

function shareData(backend: BackendWasm, x: TensorInfo): TensorInfo {
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

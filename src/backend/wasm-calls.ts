import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/**
 * Calling the wasm backend's own kernels from inside a kernel of ours. Kernel functions run
 * below the engine, so they work on TensorInfo (a dataId and a shape), never on tf.Tensor, and
 * every intermediate they make must be freed by hand with `release`.
 */
export type TensorInfo = tf.TensorInfo;
export type Shape4 = [number, number, number, number];

type KernelFunc = (args: { inputs: Record<string, TensorInfo>; backend: BackendWasm; attrs?: object }) => TensorInfo;

/** The stock wasm kernels we build on, captured before any of ours replaces one of them. */
const stockKernels = new Map<string, KernelFunc>();

export function captureStockKernel(name: string): tf.KernelConfig {
  const config = tf.getKernel(name, 'wasm');
  if (!config) throw new Error(`the wasm backend has no ${name} kernel: is @tensorflow/tfjs-backend-wasm imported?`);
  if (!stockKernels.has(name)) stockKernels.set(name, config.kernelFunc as unknown as KernelFunc);
  return config;
}

export function callStock(
  backend: BackendWasm,
  name: string,
  inputs: Record<string, TensorInfo>,
  attrs: object = {},
): TensorInfo {
  let kernel = stockKernels.get(name);
  if (!kernel) {
    captureStockKernel(name);
    kernel = stockKernels.get(name)!;
  }
  return kernel({ inputs, backend, attrs });
}

export function release(backend: BackendWasm, ...infos: TensorInfo[]): void {
  for (const info of infos) backend.disposeData(info.dataId);
}

export function transpose(backend: BackendWasm, x: TensorInfo, perm: number[]): TensorInfo {
  return callStock(backend, 'Transpose', { x }, { perm });
}

/** Shares x's data (the stock kernel bumps its reference count), so the result is released too. */
export function reshape(backend: BackendWasm, x: TensorInfo, shape: number[]): TensorInfo {
  return callStock(backend, 'Reshape', { x }, { shape });
}

/**
 * a · b, both untransposed: the only form the wasm backend hands to XNNPACK (about an order of
 * magnitude faster than its fallback loop). XNNPACK's operator is cached under b's tensor id
 * with b's values and shape packed in at first use, so a reshaped view of some tensor (same id,
 * other shape) would hit a stale operator. b therefore goes in under a fresh id over the same memory, which is
 * dropped (with its operator) right after.
 */
export function matMul(backend: BackendWasm, a: TensorInfo, b: TensorInfo): TensorInfo {
  const weights = aliasAt(backend, b, b.shape);
  try {
    return callStock(backend, 'BatchMatMul', { a, b: weights }, { transposeA: false, transposeB: false });
  } finally {
    dropAlias(backend, weights);
  }
}

/**
 * aᵀ · b through the backend's own blocked loop (any transpose flag keeps it off XNNPACK):
 * slower per flop, but it packs nothing, which wins when b is a thin column like a row of ones.
 */
export function matMulTransposedA(backend: BackendWasm, a: TensorInfo, b: TensorInfo): TensorInfo {
  return callStock(backend, 'BatchMatMul', { a, b }, { transposeA: true, transposeB: false });
}

/**
 * A tensor of `shape` over x's float32 memory from element `offset` on (a chunk of images, say),
 * under a fresh id: no copy. Free it with dropAlias, never release (that would free x's memory).
 */
export function aliasAt(backend: BackendWasm, x: TensorInfo, shape: number[], offset = 0): TensorInfo {
  const size = shape.reduce((a, b) => a * b, 1);
  const total = x.shape.reduce((a, b) => a * b, 1);
  if (offset < 0 || offset + size > total)
    throw new Error(`aliasAt: ${size} values from ${offset} do not fit in a tensor of shape [${x.shape}]`);
  const { memoryOffset } = backend.dataIdMap.get(x.dataId);
  return backend.makeOutput(shape, x.dtype, memoryOffset + offset * Float32Array.BYTES_PER_ELEMENT);
}

/** Unregisters the alias (which runs its disposal callbacks) without freeing the shared memory. */
export function dropAlias(backend: BackendWasm, alias: TensorInfo): void {
  const { id } = backend.dataIdMap.get(alias.dataId);
  (backend.wasm as unknown as { tfjs: { disposeData(id: number): void } }).tfjs.disposeData(id);
  backend.dataIdMap.delete(alias.dataId);
}

/** A stride-1 NHWC convolution on the stock kernel, with explicit [top, bottom, left, right] padding. */
export function convExplicit(
  backend: BackendWasm,
  x: TensorInfo,
  filter: TensorInfo,
  pads: [number, number, number, number],
  dilations: [number, number] = [1, 1],
): TensorInfo {
  const pad = [
    [0, 0],
    [pads[0], pads[1]],
    [pads[2], pads[3]],
    [0, 0],
  ];
  return callStock(
    backend,
    'Conv2D',
    { x, filter },
    { strides: [1, 1], pad, dataFormat: 'NHWC', dilations, dimRoundingMode: undefined },
  );
}

export function slice(backend: BackendWasm, x: TensorInfo, begin: number[], size: number[]): TensorInfo {
  return callStock(backend, 'Slice', { x }, { begin, size });
}

/**
 * A Float32Array view on a tensor's bytes in the wasm heap. Any allocation may grow the heap and
 * detach earlier views, so take views only after every output of a step has been made.
 */
export function heapView(backend: BackendWasm, info: TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(info) as Float32Array;
}

/** Only NHWC, dilation 1 and float32 are supported by our formulations; say so plainly otherwise. */
export function assertSupported(kernel: string, dataFormat: string | undefined, ...infos: TensorInfo[]): void {
  if (dataFormat !== undefined && dataFormat !== 'NHWC') {
    throw new Error(`${kernel} on the wasm backend supports dataFormat NHWC only, got ${dataFormat}`);
  }
  for (const info of infos) {
    if (info.dtype !== 'float32')
      throw new Error(`${kernel} on the wasm backend supports float32 only, got ${info.dtype}`);
  }
}

import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { SIMD_KERNELS_BASE64 } from './simd-binary.js';
import type { TensorInfo } from './wasm-calls.js';

/**
 * Our WebAssembly SIMD kernels (assembly/training-kernels.ts), instantiated on the wasm
 * backend's own memory: they read and write tensors where they lie, with byte offsets into
 * that memory, and allocate nothing. One instance per backend (each worker thread has its own).
 */
export interface SimdKernels {
  convFilterGrad(
    x: number,
    dy: number,
    dw: number,
    pad: number,
    first: number,
    count: number,
    h: number,
    w: number,
    cin: number,
    oh: number,
    ow: number,
    cout: number,
    kh: number,
    kw: number,
    padTop: number,
    padLeft: number,
  ): void;
  maxPoolGrad2x2(
    x: number,
    y: number,
    dy: number,
    dx: number,
    batch: number,
    h: number,
    w: number,
    c: number,
    oh: number,
    ow: number,
  ): void;
  columnSums(x: number, out: number, rows: number, columns: number, scale: number): void;
  winogradScratchBytes(oh: number, ow: number, cin: number, cout: number): number;
  winogradFilter(w: number, u: number, cin: number, cout: number, flipped: number): void;
  winogradConv(
    x: number,
    u: number,
    bias: number,
    out: number,
    scratch: number,
    batch: number,
    h: number,
    w: number,
    cin: number,
    oh: number,
    ow: number,
    cout: number,
    padTop: number,
    padLeft: number,
    relu: number,
  ): void;
  winogradFilterGrad(
    x: number,
    dy: number,
    du: number,
    scratch: number,
    first: number,
    count: number,
    h: number,
    w: number,
    cin: number,
    oh: number,
    ow: number,
    cout: number,
    padTop: number,
    padLeft: number,
  ): void;
  winogradFilterGradOut(du: number, dw: number, cin: number, cout: number): void;
  batchNormRows(x: number, mean: number, factor: number, offset: number, out: number, n: number, c: number): void;
  batchNormGradSums(x: number, dy: number, mean: number, out: number, rows: number, c: number): void;
  adamUpdate(
    w: number,
    m: number,
    v: number,
    g: number,
    wOut: number,
    mOut: number,
    vOut: number,
    n: number,
    beta1: number,
    oneMinusBeta1: number,
    beta2: number,
    oneMinusBeta2: number,
    c1: number,
    c2: number,
    epsilon: number,
    negLr: number,
  ): void;
  batchNormGradRows(x: number, dy: number, mean: number, k: number, dx: number, n: number, c: number): void;
  matMul(
    a: number,
    aRow: number,
    aStep: number,
    b: number,
    c: number,
    m: number,
    n: number,
    k: number,
    bias: number,
    relu: number,
    packed: number,
  ): void;
}

let compiled: WebAssembly.Module | undefined;
const instances = new WeakMap<BackendWasm, SimdKernels>();

export function simdKernels(backend: BackendWasm): SimdKernels {
  let kernels = instances.get(backend);
  if (!kernels) {
    // atob, not Buffer: the page bundles this module too.
    compiled ??= new WebAssembly.Module(Uint8Array.from(atob(SIMD_KERNELS_BASE64), (c) => c.charCodeAt(0)));
    const memory = (backend.wasm as unknown as { asm: { memory: WebAssembly.Memory } }).asm.memory;
    kernels = new WebAssembly.Instance(compiled, { env: { memory } }).exports as unknown as SimdKernels;
    instances.set(backend, kernels);
  }
  return kernels;
}

/** Where a tensor's values start in the backend's memory, in bytes: what the kernels take. */
export function addressOf(backend: BackendWasm, info: TensorInfo): number {
  return backend.dataIdMap.get(info.dataId).memoryOffset;
}

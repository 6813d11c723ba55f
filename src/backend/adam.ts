import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { ADAM_UPDATE_KERNEL } from './names.js';
import { addressOf, simdKernels } from './simd.js';
import { assertSupported, type TensorInfo } from './wasm-calls.js';

interface AdamUpdateArgs {
  inputs: { value: TensorInfo; m: TensorInfo; v: TensorInfo; gradient: TensorInfo };
  backend: BackendWasm;
  attrs: { beta1: number; beta2: number; c1: number; c2: number; epsilon: number; lr: number };
}

/**
 * One Adam step for one variable in one pass (assembly/training-kernels.ts `adamUpdate`): the
 * new value, first and second moments, the same to the bit as tfjs's AdamOptimizer, whose dozen
 * elementwise ops per variable ran on the main thread while the other threads waited.
 */
export function adamUpdate({ inputs, backend, attrs }: AdamUpdateArgs): TensorInfo[] {
  const { value, m, v, gradient } = inputs;
  assertSupported(ADAM_UPDATE_KERNEL, undefined, value, m, v, gradient);
  const n = value.shape.reduce((a, b) => a * b, 1);
  const outputs = [value, m, v].map((t) => backend.makeOutput(t.shape, 'float32'));
  const at = (t: TensorInfo) => addressOf(backend, t);
  const f = Math.fround;
  simdKernels(backend).adamUpdate(
    at(value),
    at(m),
    at(v),
    at(gradient),
    ...(outputs.map(at) as [number, number, number]),
    n,
    f(attrs.beta1),
    f(1 - attrs.beta1),
    f(attrs.beta2),
    f(1 - attrs.beta2),
    f(attrs.c1),
    f(attrs.c2),
    f(attrs.epsilon),
    f(-attrs.lr),
  );
  return outputs;
}

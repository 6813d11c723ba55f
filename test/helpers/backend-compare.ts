import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import type { Rng } from '../../src/util/rng.js';

/** Runs `compute` on a backend and hands back plain arrays, so results outlive the switch. */
export async function on(backend: 'wasm' | 'cpu', compute: () => tf.Tensor[]): Promise<Float32Array[]> {
  if (backend === 'wasm') await initBackend('wasm');
  else await tf.setBackend('cpu');
  const tensors = compute();
  const arrays = tensors.map((t) => t.dataSync() as Float32Array);
  tf.dispose(tensors);
  return arrays;
}

/** max |a - b| / max |b|: elementwise ratios blow up on entries that are ~0 by cancellation. */
export function relativeError(actual: Float32Array, expected: Float32Array): number {
  if (actual.length !== expected.length) return Infinity;
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < actual.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  if (!Number.isFinite(diff)) return Infinity;
  return scale === 0 ? diff : diff / scale;
}

export function randomValues(rng: Rng, size: number): Float32Array {
  const values = new Float32Array(size);
  for (let i = 0; i < size; i++) values[i] = rng.normal();
  return values;
}

export function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[rng.int(items.length)];
}

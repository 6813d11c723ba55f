import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { simdKernels } from '../../src/backend/simd.js';
import { on } from '../helpers/backend-compare.js';

test('the SIMD kernels run on the backend memory, one instance per backend, and still see it after it grows', async () => {
  await on('wasm', () => []);
  const backend = tf.backend() as BackendWasm;
  assert.equal(simdKernels(backend), simdKernels(backend));
  const x = tf.tensor2d([1, 2, 3, 4, 5, 6, 7, 8], [2, 4]);
  const before = (backend.wasm as unknown as { HEAPU8: Uint8Array }).HEAPU8.length;
  // A large tensor made after the kernels were instantiated grows the heap (a new ArrayBuffer).
  const big = tf.zeros([before / 4 + 1024]);
  assert.ok((backend.wasm as unknown as { HEAPU8: Uint8Array }).HEAPU8.length > before);
  const sums = tf.sum(x, 0);
  assert.deepEqual(Array.from(sums.dataSync()), [6, 8, 10, 12]);
  tf.dispose([x, big, sums]);
});

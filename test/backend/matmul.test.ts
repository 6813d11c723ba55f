import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { createRng } from '../../src/util/rng.js';
import { on, randomValues, relativeError } from '../helpers/backend-compare.js';

const CASES: Array<{ a: number[]; b: number[]; transposeA: boolean; transposeB: boolean }> = [
  { a: [7, 5], b: [5, 3], transposeA: false, transposeB: false },
  { a: [5, 7], b: [5, 3], transposeA: true, transposeB: false },
  { a: [7, 5], b: [3, 5], transposeA: false, transposeB: true },
  { a: [5, 7], b: [3, 5], transposeA: true, transposeB: true },
  { a: [1, 64, 130], b: [1, 64, 33], transposeA: true, transposeB: false },
  { a: [1, 33, 130], b: [1, 64, 130], transposeA: false, transposeB: true },
  { a: [4, 6, 5], b: [4, 6, 3], transposeA: true, transposeB: false }, // batched: stock kernel
  { a: [2, 1, 6, 5], b: [1, 6, 3], transposeA: true, transposeB: false },
  // ≥ 64 K values to pack and fewer rows than columns: multiplied the other way round, (bᵀ·aᵀ)ᵀ.
  { a: [8, 128], b: [600, 128], transposeA: false, transposeB: true },
  { a: [128, 8], b: [128, 600], transposeA: true, transposeB: false },
  { a: [1, 128, 8], b: [1, 600, 128], transposeA: true, transposeB: true },
  // Columns divisible by 8 with a transpose: our SIMD kernel (rows not divisible by 4 too).
  { a: [5, 7], b: [5, 24], transposeA: true, transposeB: false },
  { a: [7, 5], b: [16, 5], transposeA: false, transposeB: true },
  { a: [1, 130, 9], b: [1, 8, 130], transposeA: true, transposeB: true },
];

function products(a: Float32Array[], b: Float32Array[]): tf.Tensor[] {
  return CASES.map((c, i) => tf.matMul(tf.tensor(a[i], c.a), tf.tensor(b[i], c.b), c.transposeA, c.transposeB));
}

test('matMul with every transpose combination, 2-D and batched, matches cpu', async () => {
  const rng = createRng(50);
  const size = (shape: number[]) => shape.reduce((p, d) => p * d, 1);
  const a = CASES.map((c) => randomValues(rng, size(c.a)));
  const b = CASES.map((c) => randomValues(rng, size(c.b)));
  const shapes: number[][] = [];
  const wasm = await on('wasm', () => {
    const out = products(a, b);
    out.forEach((t) => shapes.push(t.shape));
    return out;
  });
  const cpuShapes: number[][] = [];
  const cpu = await on('cpu', () => {
    const out = products(a, b);
    out.forEach((t) => cpuShapes.push(t.shape));
    return out;
  });
  assert.deepEqual(shapes, cpuShapes);
  wasm.forEach((values, i) =>
    assert.ok(relativeError(values, cpu[i]) <= 1e-5, `case ${i}: ${relativeError(values, cpu[i])}`),
  );
});

test('the fused matMul of dense layers (bias, ReLU, transposes) matches cpu, first call and again with the same weights', async () => {
  const rng = createRng(51);
  const x = randomValues(rng, 13 * 40);
  const w = randomValues(rng, 40 * 16);
  const bias = randomValues(rng, 16);
  const run = () => {
    const [xs, ws, bs] = [tf.tensor2d(x, [13, 40]), tf.tensor2d(w, [40, 16]), tf.tensor1d(bias)];
    const out = [
      tf.fused.matMul({ a: xs, b: ws, bias: bs, activation: 'relu' }),
      tf.fused.matMul({ a: xs, b: ws, bias: bs, activation: 'relu' }), // weights seen before: the stock kernel
      tf.fused.matMul({ a: xs, b: ws }),
      tf.fused.matMul({ a: tf.transpose(xs), b: tf.transpose(ws), transposeA: true, transposeB: true, bias: bs }),
      tf.fused.matMul({ a: xs, b: tf.tensor2d(w.subarray(0, 40 * 12), [40, 12]), activation: 'relu' }), // 12 columns: stock
    ];
    tf.dispose([xs, ws, bs]);
    return out;
  };
  const wasm = await on('wasm', run);
  const cpu = await on('cpu', run);
  wasm.forEach((values, i) =>
    assert.ok(relativeError(values, cpu[i]) <= 1e-5, `case ${i}: ${relativeError(values, cpu[i])}`),
  );
});

test('a tensor reshaped after serving as matMul weights gives the right product (stock wasm got it wrong)', async () => {
  const values = Array.from({ length: 24 }, (_, i) => i + 1);
  const [first, second] = await on('wasm', () => {
    const x = tf.tensor2d(values, [6, 4]);
    return [tf.matMul(tf.ones([2, 6]), x), tf.matMul(tf.ones([1, 8]), x.reshape([8, 3]))];
  });
  assert.deepEqual(Array.from(first), [66, 72, 78, 84, 66, 72, 78, 84]);
  assert.deepEqual(Array.from(second), [92, 100, 108]);
});

test('mismatched inner dimensions are rejected with both shapes in the message', async () => {
  await on('wasm', () => []);
  const a = tf.ones([3, 4]);
  const b = tf.ones([5, 2]);
  assert.throws(
    () => tf.engine().runKernel('BatchMatMul', { a, b }, { transposeA: true, transposeB: false }),
    /inner shapes \(3\) and \(5\).*3,4 and 5,2/,
  );
  tf.dispose([a, b]);
});

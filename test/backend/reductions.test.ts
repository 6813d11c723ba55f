import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { createRng } from '../../src/util/rng.js';
import { on, randomValues, relativeError } from '../helpers/backend-compare.js';

const SHAPE = [5, 6, 7, 3];
/** 4 channels, rows past one 64-row block of the SIMD column sums (and a remainder). */
const SIMD_SHAPE = [3, 10, 7, 8];

/** Every axis pattern: leading axes take our matMul path, the others the stock kernels. */
const AXES: Array<number | number[] | undefined> = [
  0,
  [0, 1],
  [0, 1, 2],
  [-4, -3],
  [1, 0],
  [1, 2],
  3,
  -1,
  undefined,
  [0, 1, 2, 3],
];

function reductions(x: Float32Array): tf.Tensor[] {
  const xs = tf.tensor(x, SHAPE);
  const out = AXES.flatMap((axis) => [
    tf.sum(xs, axis),
    tf.mean(xs, axis),
    tf.sum(xs, axis, true),
    tf.mean(xs, axis, true),
  ]);
  xs.dispose();
  return out;
}

test('Sum and Mean match cpu for every axis pattern, with and without keepDims', async () => {
  const x = randomValues(
    createRng(6),
    SHAPE.reduce((a, b) => a * b),
  );
  const shapes: number[][] = [];
  const wasm = await on('wasm', () => {
    const out = reductions(x);
    out.forEach((t) => shapes.push(t.shape));
    return out;
  });
  const cpuShapes: number[][] = [];
  const cpu = await on('cpu', () => {
    const out = reductions(x);
    out.forEach((t) => cpuShapes.push(t.shape));
    return out;
  });
  assert.deepEqual(shapes, cpuShapes);
  wasm.forEach((values, i) =>
    assert.ok(relativeError(values, cpu[i]) <= 1e-5, `reduction ${i}: ${relativeError(values, cpu[i])}`),
  );
});

test('Sum and Mean over the leading axes with columns divisible by 4 (the SIMD column sums) match cpu', async () => {
  const x = randomValues(
    createRng(7),
    SIMD_SHAPE.reduce((a, b) => a * b),
  );
  const run = () => {
    const xs = tf.tensor(x, SIMD_SHAPE);
    const out = [0, [0, 1], [0, 1, 2]].flatMap((axis) => [tf.sum(xs, axis), tf.mean(xs, axis, true)]);
    xs.dispose();
    return out;
  };
  const wasm = await on('wasm', run);
  const cpu = await on('cpu', run);
  wasm.forEach((values, i) =>
    assert.ok(relativeError(values, cpu[i]) <= 1e-5, `reduction ${i}: ${relativeError(values, cpu[i])}`),
  );
});

test('an int32 sum over the batch axis stays exact on the stock kernel', async () => {
  const [wasm] = await on('wasm', () => [
    tf.sum(
      tf.tensor2d(
        [
          [1, 2],
          [3, 4],
          [5, 6],
        ],
        [3, 2],
        'int32',
      ),
      0,
    ),
  ]);
  assert.deepEqual(Array.from(wasm), [9, 12]);
});

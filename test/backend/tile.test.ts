import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { createRng } from '../../src/util/rng.js';
import { on, randomValues } from '../helpers/backend-compare.js';

test('Tile matches cpu for float32, int32 and bool, any rank and repetition', async () => {
  const rng = createRng(60);
  const cases = [
    { shape: [1, 1, 1, 4], reps: [3, 5, 2, 1] },
    { shape: [2, 3], reps: [2, 3] },
    { shape: [3, 1, 2], reps: [1, 4, 1] },
    { shape: [5], reps: [3] },
    { shape: [2, 2, 2, 2], reps: [2, 1, 3, 2] },
    { shape: [2, 3], reps: [0, 2] },
  ];
  const inputs = cases.map((c) =>
    randomValues(
      rng,
      c.shape.reduce((p, d) => p * d, 1),
    ),
  );
  const run = () =>
    cases.flatMap((c, i) => {
      const x = tf.tensor(inputs[i], c.shape);
      return [tf.tile(x, c.reps), tf.tile(tf.cast(tf.mul(x, 10), 'int32'), c.reps), tf.tile(tf.greater(x, 0), c.reps)];
    });
  const wasm = await on('wasm', run);
  const cpu = await on('cpu', run);
  wasm.forEach((values, i) => assert.deepEqual(Array.from(values), Array.from(cpu[i]), `tile result ${i}`));
});

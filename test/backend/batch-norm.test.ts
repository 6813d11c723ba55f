import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { createRng } from '../../src/util/rng.js';
import { on, randomValues, relativeError } from '../helpers/backend-compare.js';

test('FusedBatchNorm matches cpu with and without scale and offset, for a large mean too', async () => {
  const rng = createRng(70);
  const shape: [number, number, number, number] = [4, 5, 5, 6];
  const x = randomValues(rng, 4 * 5 * 5 * 6).map((v) => v + 50); // a mean far from 0
  const mean = randomValues(rng, 6).map((v) => v + 50);
  const variance = randomValues(rng, 6).map((v) => Math.abs(v) + 0.1);
  const scale = randomValues(rng, 6);
  const offset = randomValues(rng, 6);
  const run = () => {
    const xs = tf.tensor(x, shape) as tf.Tensor4D;
    const [m, v, s, o] = [mean, variance, scale, offset].map((values) => tf.tensor1d(values));
    return [
      tf.batchNorm(xs, m, v, o, s, 1e-3),
      tf.batchNorm(xs, m, v, undefined, undefined, 1e-3),
      tf.batchNorm(xs, m, v, o, undefined, 1e-3),
      tf.batchNorm(tf.reshape(xs, [100, 6]), m, v, o, s, 1e-3), // rank 2, as after a dense layer
      tf.batchNorm(xs, tf.reshape(m, [1, 1, 1, 6]), tf.reshape(v, [1, 1, 1, 6]), tf.reshape(o, [1, 1, 1, 6]), tf.reshape(s, [1, 1, 1, 6]), 1e-3), // stock path
    ];
  };
  const wasm = await on('wasm', run);
  const cpu = await on('cpu', run);
  wasm.forEach((values, i) => assert.ok(relativeError(values, cpu[i]) <= 1e-5, `batch norm ${i}: ${relativeError(values, cpu[i])}`));
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import { BATCH_NORM_TRAINING_GRAD } from '../../src/model/batch-norm-layer.js';
import { createRng } from '../../src/util/rng.js';
import { on, randomValues, relativeError } from '../helpers/backend-compare.js';

// 6 channels: three broadcast kernels; 8: our SIMD kernel in one pass.
for (const c of [6, 8]) {
  test(`FusedBatchNorm matches cpu with and without scale and offset, for a large mean too (${c} channels)`, async () => {
    const rng = createRng(70);
    const shape: [number, number, number, number] = [4, 5, 5, c];
    const x = randomValues(rng, 4 * 5 * 5 * c).map((v) => v + 50); // a mean far from 0
    const mean = randomValues(rng, c).map((v) => v + 50);
    const variance = randomValues(rng, c).map((v) => Math.abs(v) + 0.1);
    const scale = randomValues(rng, c);
    const offset = randomValues(rng, c);
    const run = () => {
      const xs = tf.tensor(x, shape) as tf.Tensor4D;
      const [m, v, s, o] = [mean, variance, scale, offset].map((values) => tf.tensor1d(values));
      return [
        tf.batchNorm(xs, m, v, o, s, 1e-3),
        tf.batchNorm(xs, m, v, undefined, undefined, 1e-3),
        tf.batchNorm(xs, m, v, o, undefined, 1e-3),
        tf.batchNorm(tf.reshape(xs, [100, c]), m, v, o, s, 1e-3), // rank 2, as after a dense layer
        tf.batchNorm(
          xs,
          tf.reshape(m, [1, 1, 1, c]),
          tf.reshape(v, [1, 1, 1, c]),
          tf.reshape(o, [1, 1, 1, c]),
          tf.reshape(s, [1, 1, 1, c]),
          1e-3,
        ), // stock path
      ];
    };
    const wasm = await on('wasm', run);
    const cpu = await on('cpu', run);
    wasm.forEach((values, i) =>
      assert.ok(relativeError(values, cpu[i]) <= 1e-5, `batch norm ${i}: ${relativeError(values, cpu[i])}`),
    );
  });
}

test('the training batch-norm gradient kernel refuses what is not float32, naming itself and the dtype', async () => {
  await initBackend('wasm');
  const x = tf.zeros([2, 4], 'int32');
  const c = tf.zeros([4]);
  assert.throws(
    () => tf.engine().runKernel(BATCH_NORM_TRAINING_GRAD, { x, dy: c, mean: c, variance: c, scale: c }, {}),
    /BatchNormTrainingGrad on the wasm backend supports float32 only, got int32/,
  );
  tf.dispose([x, c]);
});

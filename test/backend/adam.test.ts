import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import { ADAM_UPDATE_KERNEL } from '../../src/backend/names.js';

// Its arithmetic is tested through FusedAdam against tf.train.adam (test/train/adam.test.ts).
test('the Adam update kernel refuses what is not float32, naming itself and the dtype', async () => {
  await initBackend('wasm');
  const value = tf.zeros([4]);
  const gradient = tf.zeros([4], 'int32');
  const attrs = { beta1: 0.9, beta2: 0.999, c1: 0.1, c2: 0.001, epsilon: 1e-7, lr: 0.01 };
  assert.throws(
    () => tf.engine().runKernel(ADAM_UPDATE_KERNEL, { value, m: value, v: value, gradient }, attrs),
    /AdamUpdate on the wasm backend supports float32 only, got int32/,
  );
  tf.dispose([value, gradient]);
});

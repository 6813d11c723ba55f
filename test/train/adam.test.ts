import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import { FusedAdam } from '../../src/train/adam.js';
import { createRng } from '../../src/util/rng.js';
import { randomValues } from '../helpers/backend-compare.js';

/** Five steps of an optimizer on variables of these sizes (one not a multiple of 4), the same gradients each time. */
async function fiveSteps(optimizer: tf.Optimizer, sizes: number[]) {
  const rng = createRng(12);
  const variables = sizes.map((size, i) => tf.variable(tf.tensor1d(randomValues(rng, size)), true, `adam-test-${i}`));
  for (let step = 0; step < 5; step++) {
    const grads = Object.fromEntries(variables.map((v) => [v.name, tf.tensor1d(randomValues(rng, v.size))]));
    optimizer.applyGradients(grads);
    tf.dispose(Object.values(grads));
  }
  const values = variables.map((v) => v.dataSync().slice());
  const state = await optimizer.getWeights();
  const saved = state.map((w) => ({ name: w.name, values: w.tensor.dataSync().slice() }));
  tf.dispose(variables);
  optimizer.dispose();
  return { values, saved };
}

test('FusedAdam takes the same steps as tf.train.adam, to the bit, and saves the same state', async () => {
  await initBackend('wasm');
  assert.ok(tf.getKernel('AdamUpdate', 'wasm'), 'the fused kernel is registered on wasm');
  const sizes = [12, 7, 1000];
  const ours = await fiveSteps(new FusedAdam(0.01, 0.9, 0.999), sizes);
  const stock = await fiveSteps(tf.train.adam(0.01), sizes);
  ours.values.forEach((values, i) => assert.deepEqual(values, stock.values[i], `variable ${i}`));
  assert.deepEqual(
    ours.saved.map((w) => w.name),
    stock.saved.map((w) => w.name),
  );
  ours.saved.forEach((w, i) => assert.deepEqual(w.values, stock.saved[i].values, w.name));
  assert.equal(new FusedAdam(0.01, 0.9, 0.999).getClassName(), 'Adam');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { denseNet, trainDenseNet } from '../../src/baselines/dense-nets.js';
import { startBackend } from '../helpers/run-fixtures.js';
import { CHANCE_ERROR, errorOf, smallMnist } from '../helpers/small-mnist.js';

for (const [name, params, bound] of [
  ['logistic', 7850, 0.2],
  ['mlp300', 238510, 0.15],
  ['mlp300x100', 266610, 0.15],
] as const) {
  test(`${name} (${params} weights), 2 epochs on 2,750 images on two threads, errs on under ${bound * 100}% of the test images (chance: 90%)`, async () => {
    await startBackend();
    const sets = await smallMnist(3000, 1000);
    const model = denseNet(name, 1);
    const epochs: number[] = [];
    const result = await trainDenseNet(model, sets, {
      epochs: 2,
      batchSize: 64,
      lr: 0.002,
      seed: 1,
      threads: 2,
      backend: 'wasm',
      onEpoch: (epoch) => epochs.push(epoch),
    });
    model.dispose();
    assert.deepEqual(epochs, [1, 2]);
    assert.equal(result.params, params);
    assert.equal(result.predicted.length, sets.test.count);
    const error = errorOf(result.predicted, sets.test.labels);
    assert.ok(error < bound && error < CHANCE_ERROR, `test error ${error}`);
    assert.ok(result.valError < 0.25, `validation error ${result.valError} (of 250 images)`);
  });
}

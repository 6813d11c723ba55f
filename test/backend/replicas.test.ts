import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import { loadMnist, type Dataset } from '../../src/data/index.js';
import { PIXELS } from '../../src/data/types.js';
import { buildModel, logitsModel } from '../../src/model/architectures.js';
import { accuracyAndLoss } from '../../src/metrics/classification.js';
import { probabilitiesOf } from '../helpers/probabilities.js';
import { BatchFiller, identityOrder } from '../../src/data/batches.js';
import { resolveConfig } from '../../src/train/config-file.js';
import { batchPart } from '../../src/backend/replicas.js';
import { partGradients, trainableVariables } from '../../src/model/gradients.js';
import { train } from '../../src/train/trainer.js';
import { removeTempDirs, tempDir } from '../helpers/run-fixtures.js';

let data: Dataset;
before(async () => {
  await initBackend('wasm');
  data = await loadMnist();
});
after(removeTempDirs);

test('the parts of a batch cover every row once, in order, for any batch size and thread count', () => {
  for (const n of [1, 2, 7, 64, 127, 128]) {
    for (const threads of [1, 2, 3, 4]) {
      let next = 0;
      for (let k = 0; k < threads; k++) {
        const { from, to } = batchPart(n, threads, k);
        assert.equal(from, next);
        assert.ok(to >= from);
        next = to;
      }
      assert.equal(next, n);
    }
  }
});

test("the gradients of a batch's parts, each scaled by its share, sum to the whole batch's gradient", () => {
  // lenet5 has no batch norm, so the parts' gradients must add up exactly (up to float rounding).
  const model = buildModel('lenet5', 5);
  const net = logitsModel(model);
  const variables = trainableVariables(model);
  const n = 96;
  const filler = new BatchFiller(n);
  filler.fill(data.train, identityOrder(n), 0, n);
  const whole = partGradients(net, variables, filler, 0, n, 0.1, 1);
  const parts = [batchPart(n, 3, 0), batchPart(n, 3, 1), batchPart(n, 3, 2)].map(({ from, to }) =>
    partGradients(net, variables, filler, from, to, 0.1, (to - from) / n),
  );
  whole.grads.forEach((g, v) => {
    const expected = g.dataSync();
    const summed = tf.tidy(() => tf.addN(parts.map((p) => p.grads[v])).dataSync());
    const scale = Math.max(...Array.from(expected, Math.abs));
    let worst = 0;
    expected.forEach((e, i) => (worst = Math.max(worst, Math.abs(e - summed[i]))));
    assert.ok(worst <= 1e-4 * scale, `variable ${variables[v].name}: off by ${worst} (scale ${scale})`);
  });
  // Stats: plain loss sums and correct counts add up; the smoothed shares add up to the batch's loss.
  const [wholeLoss, wholeCorrect, wholeSmoothed] = whole.stats.dataSync();
  const sums = [0, 0, 0];
  for (const p of parts) p.stats.dataSync().forEach((v, i) => (sums[i] += v));
  assert.ok(Math.abs(sums[0] - wholeLoss) < 1e-3 * wholeLoss);
  assert.equal(sums[1], wholeCorrect);
  assert.ok(Math.abs(sums[2] - wholeSmoothed) < 1e-4 * wholeSmoothed);
  assert.ok(Math.abs(wholeLoss / n - wholeSmoothed) < 0.5, 'plain and smoothed losses are alike');
  tf.dispose([whole.grads, whole.stats, ...parts.flatMap((p) => [...p.grads, p.stats])]);
  model.dispose();
  assert.equal(filler.x.length, n * PIXELS);
});

test('training on two threads learns as well as on one, and is repeatable', async () => {
  const dir = await tempDir('mnist-cnn-parallel-');
  const accuracies: Record<string, number> = {};
  const weights: Record<string, Float32Array> = {};
  for (const [name, threads] of [
    ['one', 1],
    ['two', 2],
    ['two again', 2],
  ] as const) {
    const config = resolveConfig({
      flags: { arch: 'compact', limit: 3000, valCount: 0, epochs: 1, batchSize: 64, threads },
    });
    const result = await train({ config, outDir: join(dir, name), data, updateLatest: false });
    accuracies[name] = accuracyAndLoss(await probabilitiesOf(result.model, data.test), data.test.labels).accuracy;
    weights[name] = result.model.getWeights()[0].dataSync() as Float32Array;
    result.model.dispose();
  }
  assert.ok(accuracies.one > 0.9, `one thread: ${accuracies.one}`);
  assert.ok(accuracies.two > 0.9, `two threads: ${accuracies.two}`);
  assert.ok(Math.abs(accuracies.one - accuracies.two) < 0.03, `one ${accuracies.one} vs two ${accuracies.two}`);
  assert.deepEqual(weights['two again'], weights.two, 'the same seed on two threads gives the same weights');
  assert.notDeepEqual(weights.one, weights.two, 'batch norm per part: the thread count is part of the recipe');
});

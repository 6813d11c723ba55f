import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import { BatchFiller, NON_DIGIT_LABEL, identityOrder } from '../../src/data/batches.js';
import { loadMnist } from '../../src/data/load.js';
import { PIXELS, type Dataset } from '../../src/data/types.js';
import { INPUT_SHAPE, buildModel, logitsModel } from '../../src/model/architectures.js';
import { OUTLIER_WEIGHT, partGradients, trainableVariables } from '../../src/model/gradients.js';
import { nonDigitSet, packPixels } from '../../src/image/non-digits.js';

let data: Dataset;
before(async () => {
  await initBackend('wasm');
  data = await loadMnist();
});

test('with non-digit rows the loss is the digits\' smoothed cross-entropy plus λ times the non-digits\' cross-entropy to uniform', async () => {
  const model = buildModel('compact', 3);
  const net = logitsModel(model);
  const variables = trainableVariables(model);
  const others = packPixels(await nonDigitSet({ split: 'train', perCategory: 1 }));
  const n = 24;
  const k = others.count;
  const filler = new BatchFiller(n + k);
  filler.fill(data.train, identityOrder(n), 0, n);
  filler.fillNonDigits(others.images, identityOrder(k), n);
  const { grads, stats } = partGradients(net, variables, filler, 0, n + k, 0.1, 1);
  const [plainSum, correct, loss] = stats.dataSync();
  const expected = tf.tidy(() => {
    const logp = tf.logSoftmax(net.apply(tf.tensor4d(filler.x.subarray(0, (n + k) * PIXELS), [n + k, ...INPUT_SHAPE]), { training: true }) as tf.Tensor2D).arraySync() as number[][];
    let digits = 0;
    let plain = 0;
    let uniform = 0;
    logp.forEach((row, r) => {
      const label = filler.y[r];
      if (label === NON_DIGIT_LABEL) uniform += -row.reduce((s, v) => s + v, 0) / 10;
      else {
        digits += -(0.9 * row[label] + row.reduce((s, v) => s + v, 0) * 0.01);
        plain += -row[label];
      }
    });
    return { loss: digits / n + (OUTLIER_WEIGHT * uniform) / k, plain };
  });
  assert.ok(Math.abs(loss - expected.loss) < 1e-3 * expected.loss, `loss ${loss} vs ${expected.loss}`);
  assert.ok(Math.abs(plainSum - expected.plain) < 1e-3 * expected.plain, 'the plain loss sums the digits only');
  assert.ok(correct <= n);
  tf.dispose([...grads, stats]);
  model.dispose();
});

test('stepping on non-digits spreads their probabilities towards uniform', async () => {
  const model = buildModel('compact', 4);
  const net = logitsModel(model);
  const variables = trainableVariables(model);
  const others = packPixels((await nonDigitSet({ split: 'train', perCategory: 4, categories: ['dot', 'shape', 'letter', 'scribble'] })).filter((s) => !s.reason));
  const k = others.count;
  const filler = new BatchFiller(k);
  filler.fillNonDigits(others.images, identityOrder(k), 0);
  const meanMax = () =>
    tf.tidy(() => tf.mean(tf.max(model.predict(tf.tensor4d(filler.x.subarray(0, k * PIXELS), [k, ...INPUT_SHAPE])) as tf.Tensor2D, 1)).dataSync()[0]);
  // A model that is sure of some digit for these pictures first: a few steps on digits.
  const digits = new BatchFiller(128);
  digits.fill(data.train, identityOrder(128), 0, 128);
  const optimizer = tf.train.adam(0.01);
  const step = (batch: { x: Float32Array; y: Int32Array }, rows: number) => {
    const { grads, stats } = partGradients(net, variables, batch, 0, rows, 0, 1);
    optimizer.applyGradients(variables.map((v, i) => ({ name: v.name, tensor: grads[i] })));
    tf.dispose([...grads, stats]);
  };
  for (let s = 0; s < 15; s++) step(digits, 128);
  const before = meanMax();
  for (let s = 0; s < 15; s++) step(filler, k);
  const after = meanMax();
  assert.ok(after < before - 0.2, `mean top probability on non-digits ${before.toFixed(3)} → ${after.toFixed(3)} (uniform: 0.1)`);
  optimizer.dispose();
  model.dispose();
});


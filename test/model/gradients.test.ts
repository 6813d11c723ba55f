import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import { BatchFiller, identityOrder } from '../../src/data/batches.js';
import { loadMnist } from '../../src/data/load.js';
import { NOT_A_DIGIT, PIXELS, type Dataset } from '../../src/data/types.js';
import { buildModel, logitsModel } from '../../src/model/architectures.js';
import { INPUT_SHAPE } from '../../src/data/types.js';
import { partGradients, trainableVariables } from '../../src/model/gradients.js';
import { nonDigitSet, packPixels } from '../../src/image/non-digits.js';

let data: Dataset;
before(async () => {
  await initBackend('wasm');
  data = await loadMnist();
});

test('with the not-a-digit output the loss is the mean cross-entropy over eleven outputs: digits smoothed over the ten, non-digits at the 11th', async () => {
  const model = buildModel('compact', 3, { notADigit: true });
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
    const logp = tf
      .logSoftmax(
        net.apply(tf.tensor4d(filler.x.subarray(0, (n + k) * PIXELS), [n + k, ...INPUT_SHAPE]), {
          training: true,
        }) as tf.Tensor2D,
      )
      .arraySync();
    let total = 0;
    let plain = 0;
    logp.forEach((row, r) => {
      assert.equal(row.length, 11);
      const label = filler.y[r];
      if (label === NOT_A_DIGIT) total += -row[NOT_A_DIGIT];
      else {
        // 0.9 on the label, 0.01 on each of the ten digits, nothing on "not a digit".
        total += -(0.9 * row[label] + row.slice(0, 10).reduce((s, v) => s + v, 0) * 0.01);
        plain += -row[label];
      }
    });
    return { loss: total / (n + k), plain };
  });
  assert.ok(Math.abs(loss - expected.loss) < 1e-3 * expected.loss, `loss ${loss} vs ${expected.loss}`);
  assert.ok(Math.abs(plainSum - expected.plain) < 1e-3 * expected.plain, 'the plain loss sums the digits only');
  assert.ok(correct <= n, 'non-digit rows count in no accuracy');
  tf.dispose([...grads, stats]);
  model.dispose();
});

test('a model without the not-a-digit output refuses non-digit rows, saying why', async () => {
  const model = buildModel('compact', 3);
  const others = packPixels(await nonDigitSet({ split: 'train', perCategory: 1, categories: ['dot'] }));
  const filler = new BatchFiller(others.count);
  filler.fillNonDigits(others.images, identityOrder(others.count), 0);
  assert.throws(
    () => partGradients(logitsModel(model), trainableVariables(model), filler, 0, others.count, 0.1, 1),
    /no "not a digit" output/,
  );
  model.dispose();
});

test('stepping on non-digits moves their probability to the not-a-digit output', async () => {
  const model = buildModel('compact', 4, { notADigit: true });
  const net = logitsModel(model);
  const variables = trainableVariables(model);
  const others = packPixels(
    (await nonDigitSet({ split: 'train', perCategory: 4, categories: ['dot', 'shape', 'letter', 'scribble'] })).filter(
      (s) => !s.reason,
    ),
  );
  const k = others.count;
  const filler = new BatchFiller(k);
  filler.fillNonDigits(others.images, identityOrder(k), 0);
  const meanNotADigit = () =>
    tf.tidy(
      () =>
        tf
          .mean(
            tf.slice(
              model.predict(tf.tensor4d(filler.x.subarray(0, k * PIXELS), [k, ...INPUT_SHAPE])) as tf.Tensor2D,
              [0, NOT_A_DIGIT],
              [-1, 1],
            ),
          )
          .dataSync()[0],
    );
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
  const before = meanNotADigit();
  for (let s = 0; s < 15; s++) step(filler, k);
  const after = meanNotADigit();
  assert.ok(
    before < 0.1 && after > 0.8,
    `mean p(not a digit) on non-digits ${before.toFixed(3)} → ${after.toFixed(3)}`,
  );
  optimizer.dispose();
  model.dispose();
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { loadMnist } from '../../src/data/index.js';
import { Predictor, topK } from '../../src/predict/predictor.js';
import { preprocessImage, preprocessMnistPixels } from '../../src/predict/preprocess.js';
import { UserError } from '../../src/util/errors.js';
import { quickRunDir } from '../helpers/quick-run.js';

const runDir = await quickRunDir();
const data = await loadMnist();
const mnist = (i: number) => preprocessMnistPixels(data.test.images.subarray(i * 784, (i + 1) * 784));

test('predicts in batches, one answer per input, with ten probabilities that sum to 1, and leaks no tensor', async () => {
  const predictor = await Predictor.load(runDir, { minConfidence: 0, batchSize: 64 });
  const inputs = Array.from({ length: 300 }, (_, i) => mnist(i));
  const before = tf.memory().numTensors;
  const predictions = predictor.predict(inputs);
  assert.equal(tf.memory().numTensors, before, 'tensors left behind');
  assert.equal(predictions.length, 300);
  for (const p of predictions) {
    assert.equal(p.probabilities.length, 10);
    assert.ok(Math.abs(p.probabilities.reduce((a, b) => a + b, 0) - 1) < 1e-4);
    assert.equal(p.confidence, Math.max(...p.probabilities));
    assert.equal(p.digit, p.probabilities.indexOf(p.confidence));
  }
  const correct = predictions.filter((p, i) => p.digit === data.test.labels[i]).length;
  // The quick run (1 epoch on 6,000 images) reads MNIST test digits at about 95%.
  assert.ok(correct >= 0.85 * 300, `${correct} of 300 correct`);
  // Batching does not change answers.
  const single = predictor.predict([inputs[7]])[0];
  assert.deepEqual(single, predictions[7]);
  predictor.dispose();
});

test('not a digit, or not sure: digit null with the reason instead of a confident wrong answer', async () => {
  const predictor = await Predictor.load(runDir, { minConfidence: 0.999999 });
  const blank = preprocessImage({ data: new Uint8Array(40 * 40).fill(255), width: 40, height: 40, channels: 1 });
  const [forBlank, unsure] = predictor.predict([blank, mnist(0)]);
  assert.equal(forBlank.digit, null);
  assert.equal(forBlank.reason, 'blank');
  assert.equal(unsure.digit, null);
  assert.match(unsure.reason!, /low confidence \(0\.\d\d < 0\.999999\)/);
  predictor.dispose();
  await assert.rejects(Predictor.load(runDir, { minConfidence: 2 }), UserError);
  await assert.rejects(Predictor.load('/nonexistent/run'), /does not exist/);
});

test('topK orders digits by probability', () => {
  const p = [0.05, 0.5, 0.1, 0.3, 0.05, 0, 0, 0, 0, 0];
  assert.deepEqual(topK(p, 3).map((t) => t.digit), [1, 3, 2]);
  assert.equal(topK(p, 99).length, 10);
});

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { DEFAULT_RUNTIME, RUNTIMES, type RuntimeName } from '../../src/backend/names.js';
import { setOnnxRuntimeLoader } from '../../src/backend/onnx-runner.js';
import { loadMnist } from '../../src/data/index.js';
import { buildEnsembleRun } from '../../src/model/ensemble.js';
import { Predictor } from '../../src/predict/predictor.js';
import { topK } from '../../src/predict/interpret.js';
import { preprocessImage, preprocessMnistPixels } from '../../src/image/preprocess.js';
import { UserError } from '../../src/util/errors.js';
import { quickRunDir } from '../helpers/quick-run.js';
import { calibratedRun } from '../helpers/calibrated-run.js';
import { applyTemperature } from '../../src/metrics/calibration.js';
import { argmaxRows } from '../../src/metrics/classification.js';
import { INVERTED_SPEC, runWithSpec } from '../helpers/other-spec-run.js';
import { disagreeingCopy, removeTempDirs, tempDir } from '../helpers/run-fixtures.js';

const runDir = await quickRunDir();
const data = await loadMnist();
const mnist = (i: number) => preprocessMnistPixels(data.test.images.subarray(i * 784, (i + 1) * 784));
after(removeTempDirs);

for (const runtime of RUNTIMES)
  test(`${runtime}: predicts in batches, one answer per input, with ten probabilities that sum to 1, and leaks no tensor`, async () => {
    const predictor = await Predictor.load(runDir, { minConfidence: 0, batchSize: 64, runtime });
    assert.equal(predictor.runtime, runtime);
    const inputs = Array.from({ length: 300 }, (_, i) => mnist(i));
    const before = tf.memory().numTensors;
    const predictions = await predictor.predict(inputs);
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
    const single = (await predictor.predict([inputs[7]]))[0];
    assert.deepEqual(single, predictions[7]);
    await predictor.close();
  });

test('not a digit, or not sure: digit null with the reason instead of a confident wrong answer', async () => {
  const predictor = await Predictor.load(runDir, { minConfidence: 0.999999 });
  const blank = preprocessImage({ data: new Uint8Array(40 * 40).fill(255), width: 40, height: 40, channels: 1 });
  const [forBlank, unsure] = await predictor.predict([blank, mnist(0)]);
  assert.equal(forBlank.digit, null);
  assert.equal(forBlank.reason, 'blank');
  assert.equal(unsure.digit, null);
  assert.match(unsure.reason!, /^low confidence \(0\.\d{6} < 0\.999999\)$/);
  await predictor.close();
  await assert.rejects(Predictor.load(runDir, { minConfidence: 2 }), UserError);
  await assert.rejects(Predictor.load('/nonexistent/run'), /does not exist/);
});

test('topK orders digits by probability', () => {
  const p = [0.05, 0.5, 0.1, 0.3, 0.05, 0, 0, 0, 0, 0];
  assert.deepEqual(
    topK(p, 3).map((t) => t.digit),
    [1, 3, 2],
  );
  assert.equal(topK(p, 99).length, 10);
});

test("a run's own preprocessing spec (metadata.json) is applied on every path: pixels, bytes and whole sets", async () => {
  const other = await runWithSpec(runDir);
  const plain = await Predictor.load(runDir, { minConfidence: 0 });
  const inverted = await Predictor.load(other.dir, { minConfidence: 0 });
  try {
    assert.deepEqual(inverted.spec, INVERTED_SPEC);
    const pixels = data.test.images.subarray(0, 784);
    const input = inverted.preprocessPixels(pixels).input;
    pixels.forEach((p, k) => assert.ok(Math.abs(input[k] - (1 - p / 255)) < 1e-6, `pixel ${k}`));
    const set = { images: data.test.images.subarray(0, 50 * 784), labels: data.test.labels.subarray(0, 50), count: 50 };
    const fromSet = await inverted.probabilities(set);
    const fromPixels = await inverted.predict(
      Array.from({ length: 50 }, (_, i) =>
        inverted.preprocessPixels(data.test.images.subarray(i * 784, (i + 1) * 784)),
      ),
    );
    fromPixels.forEach((p, i) =>
      p.probabilities.forEach((q, k) => assert.ok(Math.abs(q - fromSet[i * 10 + k]) < 1e-5, `image ${i}, class ${k}`)),
    );
    const plainSet = await plain.probabilities(set);
    assert.ok(
      plainSet.some((p, i) => Math.abs(p - fromSet[i]) > 0.05),
      'the inverted spec changes the answers',
    );
  } finally {
    await plain.close();
    await inverted.close();
    await other.remove();
  }
});

test('two threads give the probabilities one thread gives, with and without TTA, on either runtime', async () => {
  const set = {
    images: data.test.images.subarray(0, 300 * 784),
    labels: data.test.labels.subarray(0, 300),
    count: 300,
  };
  for (const runtime of RUNTIMES) {
    const one = await Predictor.load(runDir, { threads: 1, batchSize: 100, runtime });
    const two = await Predictor.load(runDir, { threads: 2, batchSize: 100, runtime });
    try {
      assert.equal(two.threads, 2);
      assert.equal(two.runtime, runtime);
      for (const tta of [false, true]) {
        const a = await one.probabilities(set, { tta });
        const b = await two.probabilities(set, { tta });
        assert.ok(
          a.every((p, i) => Math.abs(p - b[i]) < 1e-5),
          `${runtime}, tta ${tta}`,
        );
      }
    } finally {
      await one.close();
      await two.close();
    }
  }
});

test('predictions asked for at once are queued and answered as if one by one', async () => {
  const predictor = await Predictor.load(runDir, { minConfidence: 0, threads: 2, batchSize: 8 });
  try {
    const inputs = Array.from({ length: 40 }, (_, i) => mnist(i));
    const together = await predictor.predict(inputs);
    const concurrent = await Promise.all(inputs.map((input) => predictor.predict([input]).then(([p]) => p)));
    concurrent.forEach((p, i) => {
      assert.equal(p.digit, together[i].digit);
      p.probabilities.forEach((q, k) => assert.ok(Math.abs(q - together[i].probabilities[k]) < 1e-5));
    });
  } finally {
    await predictor.close();
  }
});

test('micro-batching: predictions that arrive together run as one model call, with the answers each would get alone', async () => {
  const alone = await Predictor.load(runDir, { minConfidence: 0 });
  const merged = await Predictor.load(runDir, { minConfidence: 0, batchWindowMs: 20, maxBatch: 64 });
  try {
    const inputs = Array.from({ length: 40 }, (_, i) => mnist(i));
    const expected: Awaited<ReturnType<Predictor['predict']>> = [];
    for (const input of inputs) expected.push(...(await alone.predict([input])));
    const answers = await Promise.all(inputs.map((input) => merged.predict([input]).then(([p]) => p)));
    assert.equal(merged.calls.count, 1, 'one model call for 40 callers');
    assert.equal(merged.calls.images, 40);
    answers.forEach((p, i) => {
      assert.equal(p.digit, expected[i].digit);
      p.probabilities.forEach((q, k) =>
        assert.ok(Math.abs(q - expected[i].probabilities[k]) < 1e-5, `image ${i}, class ${k}`),
      );
    });
    // Past maxBatch, a call goes at once and the rest wait for the next one.
    const many = Array.from({ length: 100 }, (_, i) => mnist(i));
    const before = merged.calls.count;
    const results = await Promise.all(many.map((input) => merged.predict([input])));
    assert.equal(results.length, 100);
    assert.equal(merged.calls.count - before, 2, '64 + 36');
  } finally {
    await alone.close();
    await merged.close();
  }
});

/** The largest difference between two runtimes' probabilities. */
const maxDifference = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

/**
 * A run folder, both runtimes on it, and the same questions to each: answers of `predict`
 * (bytes through the run's spec), probabilities of a set with and without TTA.
 */
async function sameOnBothRuntimes(dir: string, what: string, count = 500): Promise<void> {
  const set = { images: data.test.images.subarray(0, count * 784), labels: data.test.labels.subarray(0, count), count };
  const by: Partial<Record<RuntimeName, Predictor>> = {};
  try {
    for (const runtime of RUNTIMES)
      by[runtime] = await Predictor.load(dir, { runtime, minConfidence: 0, batchSize: 128 });
    const tfjs = by.tfjs!;
    const onnx = by.onnx!;
    assert.equal(tfjs.runtime, 'tfjs');
    assert.equal(onnx.runtime, 'onnx', `${what}: ONNX Runtime loads here`);
    // The model is the TensorFlow.js one on both (the server serves its files to the page).
    assert.ok(onnx.model instanceof tf.LayersModel);
    assert.deepEqual(onnx.spec, tfjs.spec);
    const inputs = Array.from({ length: 40 }, (_, i) =>
      onnx.preprocessPixels(data.test.images.subarray(i * 784, (i + 1) * 784)),
    );
    const [a, b] = [await tfjs.predict(inputs), await onnx.predict(inputs)];
    a.forEach((p, i) => {
      assert.equal(b[i].digit, p.digit, `${what}: image ${i}`);
      assert.ok(maxDifference(b[i].probabilities, p.probabilities) <= 1e-5, `${what}: image ${i}`);
    });
    for (const tta of [false, true]) {
      const difference = maxDifference(await onnx.probabilities(set, { tta }), await tfjs.probabilities(set, { tta }));
      assert.ok(difference <= 1e-5, `${what}, tta ${tta}: ${difference}`);
    }
  } finally {
    for (const predictor of Object.values(by)) await predictor.close();
  }
}

test(`runtime 'onnx' (the default: ${DEFAULT_RUNTIME}) gives the probabilities runtime 'tfjs' gives, within 1e-5: predict, sets, TTA`, async () => {
  const predictor = await Predictor.load(runDir);
  assert.equal(predictor.runtime, DEFAULT_RUNTIME);
  await predictor.close();
  await sameOnBothRuntimes(runDir, 'the quick run');
});

test('both runtimes read a run with its own preprocessing spec, and an ensemble run, the same way', async () => {
  const other = await runWithSpec(runDir);
  try {
    await sameOnBothRuntimes(other.dir, 'inverted spec', 200);
  } finally {
    await other.remove();
  }
  // An ensemble of the quick run and a copy with its first kernel scaled (so the two disagree).
  const work = await tempDir('mnist-cnn-runtimes-');
  const second = await disagreeingCopy(runDir, join(work, 'second'));
  const { dir } = await buildEnsembleRun([runDir, second], join(work, 'ensemble'));
  await sameOnBothRuntimes(dir, 'ensemble', 200);
});

test('where ONNX Runtime does not load, a Predictor runs on TensorFlow.js after one notice, with the same answers', async (t) => {
  const lines: string[] = [];
  t.mock.method(console, 'error', (...parts: unknown[]) => lines.push(parts.join(' ')));
  setOnnxRuntimeLoader(() => Promise.reject(new Error('no onnxruntime binary for this platform')));
  let fallback: Predictor | undefined;
  const reference = await Predictor.load(runDir, { runtime: 'tfjs', minConfidence: 0 });
  try {
    fallback = await Predictor.load(runDir, { runtime: 'onnx', minConfidence: 0 });
    assert.deepEqual(lines, [
      'notice: ONNX Runtime does not load here (no onnxruntime binary for this platform); using TensorFlow.js',
    ]);
    assert.equal(fallback.runtime, 'tfjs');
    const inputs = Array.from({ length: 20 }, (_, i) => mnist(i));
    assert.deepEqual(await fallback.predict(inputs), await reference.predict(inputs));
  } finally {
    setOnnxRuntimeLoader();
    await fallback?.close();
    await reference.close();
  }
});

test("the run's temperature calibrates every answer: predict, sets and TTA get softmax(log p / T), with the argmax of the raw p; a run without one gets T = 1", async () => {
  const calibrated = await calibratedRun(runDir);
  const withT = await Predictor.load(calibrated.dir, { minConfidence: 0 });
  const raw = await Predictor.load(calibrated.dir, { minConfidence: 0, temperature: 1 });
  try {
    assert.equal(withT.temperature, calibrated.temperature);
    assert.ok(
      Math.abs(withT.temperature - 1) > 0.02,
      `the quick run is miscalibrated enough to test with (T = ${withT.temperature})`,
    );
    const set = {
      images: data.test.images.subarray(0, 200 * 784),
      labels: data.test.labels.subarray(0, 200),
      count: 200,
    };
    const rawProbs = await raw.probabilities(set);
    assert.deepEqual(await withT.probabilities(set, { calibrated: false }), rawProbs);
    const expected = applyTemperature(rawProbs, withT.temperature);
    const answers = await withT.predict(Array.from({ length: 200 }, (_, i) => mnist(i)));
    const rawAnswers = await raw.predict(Array.from({ length: 200 }, (_, i) => mnist(i)));
    let moved = 0;
    answers.forEach((a, i) => {
      a.probabilities.forEach((q, k) => assert.ok(Math.abs(q - expected[i * 10 + k]) < 1e-5, `image ${i}, class ${k}`));
      assert.equal(a.digit, rawAnswers[i].digit, `image ${i}: the temperature must not change the digit`);
      if (Math.abs(a.confidence - rawAnswers[i].confidence) > 1e-3) moved++;
    });
    assert.ok(moved > 100, `the temperature changes confidences (${moved} of 200 moved)`);
    const tta = await withT.probabilities(set, { tta: true });
    const ttaRaw = await withT.probabilities(set, { tta: true, calibrated: false });
    assert.deepEqual(tta, applyTemperature(ttaRaw, withT.temperature));
    assert.deepEqual(argmaxRows(tta), argmaxRows(ttaRaw));
    // A run made before calibration (no `temperature` in metadata.json) answers with T = 1.
    const metaPath = join(calibrated.dir, 'metadata.json');
    const { temperature: _t, temperatureFit: _f, ...old } = JSON.parse(await readFile(metaPath, 'utf8'));
    await writeFile(metaPath, JSON.stringify(old));
    const older = await Predictor.load(calibrated.dir, { minConfidence: 0 });
    try {
      assert.equal(older.temperature, 1);
      assert.deepEqual(await older.probabilities(set), rawProbs);
    } finally {
      await older.close();
    }
    await writeFile(metaPath, JSON.stringify({ ...old, temperature: 'hot' }));
    await assert.rejects(Predictor.load(calibrated.dir), /metadata\.json: temperature "hot" is not a positive number/);
  } finally {
    await withT.close();
    await raw.close();
    await calibrated.remove();
  }
});

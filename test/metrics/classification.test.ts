import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  accuracy,
  argmaxRows,
  calibration,
  calibrationBinOf,
  computeMetrics,
  confusedPairs,
  confusionMatrix,
  macroAverage,
  meanCrossEntropy,
  perClassScores,
  topKAccuracy,
  weightedAverage,
  withExamples,
  worstErrors,
} from '../../src/metrics/classification.js';

const close = (actual: number, expected: number, message?: string, tolerance = 1e-9) =>
  assert.ok(Math.abs(actual - expected) < tolerance, `${message ?? ''} expected ${expected}, got ${actual}`);
/** Probabilities are float32, as the model gives them. */
const FLOAT32 = 1e-6;

/** Rows that put `p` on the given class and share the rest evenly. */
function peaked(predicted: number[], classes: number, p = 0.8): Float32Array {
  const probs = new Float32Array(predicted.length * classes).fill((1 - p) / (classes - 1));
  predicted.forEach((k, i) => (probs[i * classes + k] = p));
  return probs;
}

test('3 classes: confusion matrix and per-class scores match the hand-checked table', () => {
  const labels = [0, 0, 0, 1, 1, 2];
  const predicted = [0, 0, 1, 1, 2, 2];
  const cm = confusionMatrix(labels, predicted, 3);
  assert.deepEqual(cm, [
    [2, 1, 0],
    [0, 1, 1],
    [0, 0, 1],
  ]);
  const scores = perClassScores(cm);
  const expected = [
    { digit: 0, precision: 1, recall: 2 / 3, f1: 0.8, support: 3 },
    { digit: 1, precision: 0.5, recall: 0.5, f1: 0.5, support: 2 },
    { digit: 2, precision: 0.5, recall: 1, f1: 2 / 3, support: 1 },
  ];
  scores.forEach((s, k) => {
    assert.equal(s.digit, expected[k].digit);
    assert.equal(s.support, expected[k].support);
    close(s.precision, expected[k].precision, `precision ${k}`);
    close(s.recall, expected[k].recall, `recall ${k}`);
    close(s.f1, expected[k].f1, `f1 ${k}`);
  });
  const macro = macroAverage(scores);
  close(macro.precision, 2 / 3);
  close(macro.recall, 13 / 18);
  close(macro.f1, 59 / 90);
  const weighted = weightedAverage(scores);
  close(weighted.precision, 0.75);
  close(weighted.recall, 4 / 6);
  close(weighted.f1, 61 / 90);
  close(accuracy(labels, predicted), 4 / 6);
});

test('0/0 scores are 0 (zero_division=0): a class never predicted and classes absent from the labels', () => {
  // Labels hold only 0 and 1; the model predicts a 2 once and never a 1 right.
  const labels = [0, 0, 1];
  const predicted = [0, 2, 0];
  const scores = perClassScores(confusionMatrix(labels, predicted, 10));
  assert.deepEqual(scores[1], { digit: 1, precision: 0, recall: 0, f1: 0, support: 1 });
  assert.deepEqual(scores[2], { digit: 2, precision: 0, recall: 0, f1: 0, support: 0 });
  for (let k = 3; k < 10; k++) assert.deepEqual(scores[k], { digit: k, precision: 0, recall: 0, f1: 0, support: 0 });
  close(scores[0].precision, 1 / 2);
  close(scores[0].recall, 1 / 2);
  // The macro average counts all ten classes, the empty ones as 0, as sklearn does.
  close(macroAverage(scores).f1, 0.5 / 10);
  close(weightedAverage(scores).f1, (0.5 * 2) / 3);
});

test('argmax ties go to the lower class; top-k ranks ties the same way', () => {
  const probs = Float32Array.from([
    0.5,
    0.5,
    0, // label 1: tie with class 0, which wins → wrong at top-1, right at top-2
    1 / 3,
    1 / 3,
    1 / 3, // label 2: three-way tie, third → right only at top-3
    0.1,
    0.2,
    0.7, // label 2: right
  ]);
  const labels = [1, 2, 2];
  assert.deepEqual(Array.from(argmaxRows(probs, 3)), [0, 0, 2]);
  close(topKAccuracy(probs, labels, 1, 3), 1 / 3);
  close(topKAccuracy(probs, labels, 2, 3), 2 / 3);
  close(topKAccuracy(probs, labels, 3, 3), 1);
});

test('cross-entropy clips probabilities at 1e-7', () => {
  close(meanCrossEntropy(Float32Array.from([1, 0]), [0], 2), -Math.log(1 - 1e-7));
  close(meanCrossEntropy(Float32Array.from([1, 0]), [1], 2), -Math.log(1e-7));
  close(meanCrossEntropy(Float32Array.from([0.25, 0.75, 0.5, 0.5]), [1, 0], 2), (-Math.log(0.75) - Math.log(0.5)) / 2);
});

test('ECE: perfectly calibrated is 0; constructed over-confidence gives the known value', () => {
  // 10 images at confidence 0.7 with 7 right: calibrated.
  const labels = [0, 0, 0, 0, 0, 0, 0, 1, 1, 1];
  const calibrated = calibration(peaked(new Array(10).fill(0), 10, 0.7), labels);
  close(calibrated.ece, 0, 'calibrated', FLOAT32);
  // Half at 0.62 and all right (gap 0.38), half at 0.9 and all wrong (gap 0.9).
  const predicted = [0, 0, 0, 0, 1, 1, 1, 1];
  const probs = new Float32Array(8 * 10).fill(0);
  predicted.forEach((k, i) => {
    const p = i < 4 ? 0.62 : 0.9;
    probs[i * 10 + k] = p;
    probs[i * 10 + 9] = 1 - p;
  });
  const { ece, table } = calibration(probs, [0, 0, 0, 0, 2, 2, 2, 2]);
  close(ece, 0.5 * (1 - 0.62) + 0.5 * 0.9, 'ece', FLOAT32);
  assert.equal(table.length, 15);
  const bin62 = table[calibrationBinOf(0.62)];
  assert.equal(bin62.count, 4);
  close(bin62.accuracy, 1);
  assert.ok(Math.abs(bin62.confidence - 0.62) < 1e-6);
  assert.ok(bin62.lo < 0.62 && 0.62 <= bin62.hi);
  assert.equal(table[13].count, 4, '0.9 falls in (13/15, 14/15]');
  assert.equal(
    table.reduce((sum, b) => sum + b.count, 0),
    8,
  );
});

test('calibration bins are (lo, hi]: edges go to the lower bin, 0 and 1 to the ends', () => {
  assert.equal(calibrationBinOf(0), 0);
  assert.equal(calibrationBinOf(1), 14);
  assert.equal(calibrationBinOf(0.5), 7); // 0.5 = 7.5/15 → (7/15, 8/15]
  assert.equal(calibrationBinOf(2 / 15), 1); // on the edge → (1/15, 2/15]
  assert.equal(calibrationBinOf(2 / 15 + 1e-9), 2);
});

test('confused pairs: off-diagonal, most frequent first, ties by true then predicted class', () => {
  const cm = [
    [5, 2, 3],
    [3, 5, 0],
    [0, 2, 5],
  ];
  assert.deepEqual(confusedPairs(cm), [
    { true: 0, predicted: 2, count: 3 },
    { true: 1, predicted: 0, count: 3 },
    { true: 0, predicted: 1, count: 2 },
    { true: 2, predicted: 1, count: 2 },
  ]);
  assert.equal(confusedPairs(cm, 2).length, 2);
});

test('worst errors: wrong answers by confidence, ties by index; pair examples likewise', () => {
  const probs = Float32Array.from([
    0.9,
    0.1, // 0: label 0, right
    0.8,
    0.2, // 1: label 1, wrong at 0.8
    0.6,
    0.4, // 2: label 1, wrong at 0.6
    0.8,
    0.2, // 3: label 1, wrong at 0.8 (tie with 1)
    0.3,
    0.7, // 4: label 0, wrong at 0.7
  ]);
  const labels = [0, 1, 1, 1, 0];
  const worst = worstErrors(probs, labels, 25, 2);
  assert.deepEqual(
    worst.map((e) => e.index),
    [1, 3, 4, 2],
  );
  assert.deepEqual(
    { ...worst[2], confidence: 0, trueProbability: 0 },
    { index: 4, true: 0, predicted: 1, confidence: 0, trueProbability: 0 },
  );
  assert.ok(Math.abs(worst[2].confidence - 0.7) < 1e-6 && Math.abs(worst[2].trueProbability - 0.3) < 1e-6);
  const [pair] = withExamples([{ true: 1, predicted: 0, count: 3 }], probs, labels, 2, 2);
  assert.deepEqual(
    pair.examples?.map((e) => e.index),
    [1, 3],
  );
});

const probsArbitrary = fc
  .integer({ min: 1, max: 60 })
  .chain((n) =>
    fc.record({
      labels: fc.array(fc.integer({ min: 0, max: 9 }), { minLength: n, maxLength: n }),
      // Coarse values make ties common.
      raw: fc.array(fc.integer({ min: 0, max: 4 }), { minLength: n * 10, maxLength: n * 10 }),
    }),
  )
  .map(({ labels, raw }) => {
    const probs = new Float32Array(raw.length);
    for (let i = 0; i < labels.length; i++) {
      const row = raw.slice(i * 10, i * 10 + 10).map((v) => v + 0.5);
      const sum = row.reduce((a, b) => a + b, 0);
      row.forEach((v, k) => (probs[i * 10 + k] = v / sum));
    }
    return { labels, probs };
  });

test('invariants hold on random inputs (fast-check)', () => {
  fc.assert(
    fc.property(probsArbitrary, ({ labels, probs }) => {
      const m = computeMetrics(probs, labels);
      const n = labels.length;
      assert.equal(m.n, n);
      m.confusionMatrix.forEach((row, k) =>
        assert.equal(
          row.reduce((a, b) => a + b, 0),
          m.perClass[k].support,
        ),
      );
      assert.equal(
        m.perClass.reduce((sum, s) => sum + s.support, 0),
        n,
      );
      const trace = m.confusionMatrix.reduce((sum, row, k) => sum + row[k], 0);
      close(m.accuracy, trace / n);
      assert.equal(m.errors, n - trace);
      assert.ok(m.topK.top1 <= m.topK.top2 && m.topK.top2 <= m.topK.top3);
      close(m.topK.top1, m.accuracy);
      close(m.weighted.recall, m.accuracy, 'weighted recall = accuracy');
      assert.equal(
        m.calibration.reduce((sum, b) => sum + b.count, 0),
        n,
      );
      assert.ok(m.ece >= 0 && m.ece <= 1);
      for (const s of m.perClass) for (const v of [s.precision, s.recall, s.f1]) assert.ok(v >= 0 && v <= 1);
      assert.equal(m.predictions.length, n);
      assert.equal(m.worstErrors.length, Math.min(24, n - trace));
      for (const e of m.worstErrors) assert.notEqual(e.true, e.predicted);
      for (const p of m.confusedPairs) assert.equal(p.count, m.confusionMatrix[p.true][p.predicted]);
    }),
    { numRuns: 200 },
  );
});

test('shape mismatches and bad labels are refused', () => {
  assert.throws(() => computeMetrics(new Float32Array(15), [0, 1]), /15 values, expected 2 labels x 10 classes/);
  assert.throws(() => computeMetrics(new Float32Array(10), [12]), /label 12 at index 0/);
});

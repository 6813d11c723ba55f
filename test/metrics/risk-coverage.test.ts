import { test } from 'node:test';
import assert from 'node:assert/strict';
import { atThreshold, lowestThresholdFor, riskCoverage } from '../../src/metrics/risk-coverage.js';

// Six images, most confident first: right, right, wrong, right, wrong, and one refused as no digit (index 5).
const confidence = [0.99, 0.95, 0.9, 0.8, 0.6, 0.99];
const correct = [true, true, false, true, false, true];
const answerable = (i: number) => i !== 5;

test('the risk-coverage curve and its area, by hand', () => {
  const rc = riskCoverage(confidence, correct, answerable);
  assert.equal(rc.n, 6);
  assert.equal(rc.maxCoverage, 5 / 6);
  assert.equal(rc.accuracyAll, 3 / 5);
  // Error rates among the k most confident: 0, 0, 1/3, 1/4, 2/5; their mean times 5/6.
  assert.ok(Math.abs(rc.aurc - ((0 + 0 + 1 / 3 + 1 / 4 + 2 / 5) / 5) * (5 / 6)) < 1e-12);
  assert.deepEqual(
    rc.curve.map((p) => [p.threshold, p.coverage, p.accuracy]),
    [
      [0.99, 1 / 6, 1],
      [0.95, 2 / 6, 1],
      [0.9, 3 / 6, 2 / 3],
      [0.8, 4 / 6, 3 / 4],
      [0.6, 5 / 6, 3 / 5],
    ],
  );
  // Errors last: area 0.
  assert.ok(Math.abs(riskCoverage([0.9, 0.8, 0.1], [true, true, false]).aurc - 1 / 9) < 1e-12);
  assert.equal(riskCoverage([0.9, 0.8], [true, true]).aurc, 0);
});

test('answers at a threshold, and the lowest threshold that keeps a target accuracy', () => {
  assert.deepEqual(atThreshold(confidence, correct, 0.85, answerable), {
    threshold: 0.85,
    coverage: 3 / 6,
    accuracy: 2 / 3,
  });
  assert.deepEqual(atThreshold(confidence, correct, 1, answerable), { threshold: 1, coverage: 0, accuracy: 1 });
  assert.deepEqual(lowestThresholdFor(confidence, correct, 0.75, answerable), {
    threshold: 0.8,
    coverage: 4 / 6,
    accuracy: 3 / 4,
  });
  assert.deepEqual(lowestThresholdFor(confidence, correct, 1, answerable), {
    threshold: 0.95,
    coverage: 2 / 6,
    accuracy: 1,
  });
  assert.equal(lowestThresholdFor([0.9], [false], 0.5), undefined);
  // Equal confidences are answered together or not at all.
  assert.deepEqual(lowestThresholdFor([0.9, 0.9, 0.5], [true, false, true], 0.9), undefined);
});

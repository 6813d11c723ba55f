import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  applyTemperature,
  brier,
  calibrationScores,
  fitTemperature,
  nll,
  temperatureFit,
} from '../../src/metrics/calibration.js';
import { argmaxRows, calibration } from '../../src/metrics/classification.js';
import { createRng } from '../../src/util/rng.js';

const close = (actual: number, expected: number, tolerance: number, message = '') =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${message} expected ${expected} ± ${tolerance}, got ${actual}`);

function softmax(logits: number[]): number[] {
  const max = Math.max(...logits);
  const e = logits.map((z) => Math.exp(z - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

/**
 * A calibrated model by construction: each image's logits are random, and its label is drawn
 * from softmax(logits) itself. The model handed to the fit reports softmax(logits * sharpen):
 * over-confident for sharpen > 1, under-confident below; the temperature that undoes it is
 * `sharpen`.
 */
function miscalibrated(
  n: number,
  sharpen: number,
  seed: number,
): { probs: Float32Array; labels: Uint8Array; calibrated: Float32Array } {
  const rng = createRng(seed);
  const probs = new Float32Array(n * 10);
  const calibrated = new Float32Array(n * 10);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    // One class stands out, as in a trained net; the rest are noise.
    const favourite = Math.floor(rng.next() * 10);
    const logits = Array.from({ length: 10 }, (_, k) => 1.5 * (rng.next() * 2 - 1) + (k === favourite ? 3 : 0));
    const p = softmax(logits);
    let u = rng.next();
    let label = 9;
    for (let k = 0; k < 10; k++) {
      u -= p[k];
      if (u < 0) {
        label = k;
        break;
      }
    }
    labels[i] = label;
    calibrated.set(p, i * 10);
    probs.set(softmax(logits.map((z) => z * sharpen)), i * 10);
  }
  return { probs, labels, calibrated };
}

test('the fit recovers the temperature of a model sharpened by T = 2.5 (over-confident) and by T = 0.5 (under-confident)', () => {
  for (const sharpen of [2.5, 0.5]) {
    const { probs, labels } = miscalibrated(20000, sharpen, 11);
    const t = fitTemperature(probs, labels);
    close(t, sharpen, 0.05 * sharpen, `sharpened by ${sharpen}:`);
  }
});

test("temperature scaling of the sharpened model brings ECE and NLL down to the calibrated model's, and leaves the argmax alone", () => {
  const { probs, labels, calibrated } = miscalibrated(20000, 2.5, 12);
  const fit = temperatureFit(probs, labels);
  const truth = calibrationScores(calibrated, labels);
  assert.ok(fit.before.ece > 0.1, `the sharpened model is miscalibrated (ECE ${fit.before.ece})`);
  assert.ok(fit.after.ece < 0.02, `ECE after ${fit.after.ece}`);
  close(fit.after.nll, truth.nll, 0.005, "NLL after the fit against the true model's:");
  assert.ok(fit.after.nll < fit.before.nll && fit.after.brier < fit.before.brier);
  assert.equal(fit.n, 20000);
  assert.deepEqual(argmaxRows(applyTemperature(probs, fit.temperature)), argmaxRows(probs));
});

test('applyTemperature: softmax(log p / T) by hand; T = 1 keeps p; rows still sum to 1; a zero stays zero', () => {
  const p = [0.5, 0.3, 0.2];
  const t2 = applyTemperature(p, 2, 3);
  const roots = p.map(Math.sqrt);
  const sum = roots.reduce((a, b) => a + b, 0);
  roots.forEach((r, k) => close(t2[k], r / sum, 1e-7, `class ${k}:`));
  applyTemperature(p, 1, 3).forEach((v, k) => close(v, p[k], 1e-7));
  const sharp = applyTemperature([0.6, 0.4, 0], 0.5, 3);
  close(sharp[0], 0.36 / 0.52, 1e-7);
  assert.equal(sharp[2], 0);
  assert.throws(() => applyTemperature(p, 0, 3), /temperature 0 is not a positive number/);
  assert.throws(() => applyTemperature([0.5, 0.5], 1, 3), /not rows of 3 classes/);
});

test('NLL, Brier score and ECE on hand-computed cases', () => {
  // Two images, 2 classes: p(true) = 0.8 and 0.4.
  const probs = [0.8, 0.2, 0.6, 0.4];
  const labels = [0, 1];
  close(nll(probs, labels, 2), -(Math.log(0.8) + Math.log(0.4)) / 2, 1e-12);
  // (0.2² + 0.2²) and (0.6² + 0.6²), averaged.
  close(brier(probs, labels, 2), (0.08 + 0.72) / 2, 1e-12);
  // Confidences 0.8 (right) and 0.6 (wrong) fall in different bins: (|1 - 0.8| + |0 - 0.6|) / 2.
  close(calibrationScores(probs, labels, 2).ece, 0.4, 1e-12);
  assert.equal(calibrationScores(probs, labels, 2).ece, calibration(probs, labels, 15, 2).ece);
  // A perfect, certain answer scores 0 everywhere.
  assert.deepEqual(calibrationScores([1, 0], [0], 2), { ece: 0, nll: nll([1, 0], [0], 2), brier: 0 });
  assert.throws(() => brier([0.5, 0.5], [0, 1], 2), /expected 2 labels x 2 classes/);
});

test('no images to fit on: T = 1', () => {
  assert.equal(fitTemperature([], []), 1);
});

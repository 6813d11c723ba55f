import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadMnist } from '../../src/data/load.js';
import { readMetadata } from '../../src/model/run.js';
import { interpretProbabilities } from '../../src/predict/interpret.js';
import { Predictor } from '../../src/predict/predictor.js';
import { nonDigitRunDir } from '../helpers/non-digit-run.js';
import { conformalQuantile, fitSetRule, setFigures, setFiguresOf } from '../../src/predict/prediction-sets.js';
import { createRng, type Rng } from '../../src/util/rng.js';

test('the conformal quantile is the ⌈(n + 1) × coverage⌉-th smallest score, Infinity when n is too small', () => {
  const scores = Array.from({ length: 199 }, (_, i) => i);
  // ⌈200 × 0.99⌉ = 198: the 198th smallest, 197.
  assert.equal(conformalQuantile(scores, 0.99), 197);
  assert.equal(conformalQuantile(scores, 0.5), 99);
  assert.equal(conformalQuantile(scores.slice(0, 98), 0.99), Infinity);
  assert.equal(conformalQuantile([], 0.9), Infinity);
});

/**
 * Labelled rows of a made-up classifier that is sure and right most of the time and unsure
 * between two digits otherwise (then the right one is the first 60% of the time, the second 35%,
 * another 5%), with an 11th "not a digit" value.
 */
function rows(n: number, rng: Rng): { probs: Float32Array; labels: Uint8Array } {
  const probs = new Float32Array(n * 11);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const row = probs.subarray(i * 11, (i + 1) * 11);
    const a = rng.int(10);
    const b = (a + 1 + rng.int(9)) % 10;
    const c = (b + 1 + rng.int(8)) % 10 === a ? (b + 2) % 10 : (b + 1 + rng.int(8)) % 10;
    if (rng.next() < 0.9) {
      row.fill(0.001);
      row[a] = 0.99;
      labels[i] = rng.next() < 0.999 ? a : b;
    } else {
      const share = 0.5 + 0.3 * rng.next();
      row.fill(0.002);
      row[a] = share;
      row[b] = 0.95 - share;
      row[c] = 0.03;
      const u = rng.next();
      labels[i] = u < 0.6 ? a : u < 0.95 ? b : c;
    }
  }
  return { probs, labels };
}

test('fitted on one sample, sets hold the true digit with the coverage on another, in each group; the sure ones stay single digits', () => {
  const rng = createRng(4);
  const fit = rows(20000, rng);
  const rule = fitSetRule(fit.probs, fit.labels, 11, { minConfidence: 0 }, 0.9);
  assert.equal(rule.unsureBelow, 0.9);
  assert.ok(rule.n.sure > 15000 && rule.n.unsure > 1500, JSON.stringify(rule.n));
  // The sure answers (top share 0.99 >= 0.9) are right 99.9% of the time: no second digit needed.
  assert.equal(rule.sure, 1);
  // Unsure ones: the second digit (right 35% of the time) must join, the third (5%) need not.
  assert.ok(rule.unsure > 0.03 && rule.unsure <= 0.45, `unsure threshold ${rule.unsure}`);
  const test = rows(20000, rng);
  const figures = setFiguresOf(test.probs, test.labels, 11, { minConfidence: 0, sets: rule });
  // (Conformal coverage holds on average over fitting samples: on one, within a few standard errors, ±0.7 points here.)
  assert.ok(
    figures.groups.unsure.coverage >= 0.885 && figures.groups.unsure.coverage < 0.95,
    JSON.stringify(figures.groups),
  );
  assert.ok(figures.groups.sure.coverage >= 0.99);
  assert.ok(figures.coverage >= 0.95);
  assert.equal(figures.sizes['3'] ?? 0, 0);
  assert.ok(figures.sizes['2'] > 0.5 * figures.groups.unsure.n, JSON.stringify(figures.sizes));
  assert.ok(figures.meanSize <= 1 + figures.groups.unsure.n / figures.n, `${figures.meanSize}`);
});

test('rows the not-a-digit threshold refuses get no set, count against the coverage, and are left out of the fit', () => {
  const { probs, labels } = rows(2000, createRng(6));
  // Make a tenth of the rows "not a digit" (its probability 0.9).
  for (let i = 0; i < 2000; i += 10) {
    const row = probs.subarray(i * 11, (i + 1) * 11);
    row.fill(0.01);
    row[10] = 0.9;
  }
  const refusing = { minConfidence: 0, notADigitBelow: 0 };
  const rule = fitSetRule(probs, labels, 11, refusing, 0.9);
  assert.equal(rule.n.sure + rule.n.unsure, 1800);
  const figures = setFiguresOf(probs, labels, 11, { ...refusing, sets: rule });
  assert.equal(figures.emptySets, 200);
  assert.ok(Math.abs(figures.coverage - figures.coverageAnswered * 0.9) < 1e-9);
});

test('setFigures counts sizes and coverage as given', () => {
  const answers = [{ set: [1] }, { set: [2, 3] }, { set: [] }, { set: [4, 5, 6] }];
  const figures = setFigures(answers, [1, 3, 7, 9], (i) => i > 0);
  assert.deepEqual(figures.sizes, { '1': 1, '2': 1, '3': 1 });
  assert.equal(figures.coverage, 0.5);
  assert.equal(figures.coverageAnswered, 2 / 3);
  assert.equal(figures.meanSize, 2);
  assert.equal(figures.emptySets, 1);
  assert.deepEqual(figures.groups.sure, { n: 1, coverage: 1, meanSize: 1 });
  assert.deepEqual(figures.groups.unsure, { n: 2, coverage: 0.5, meanSize: 2.5 });
  // (The answers of interpretProbabilities fit as they are.)
  assert.equal(
    setFigures([interpretProbabilities([0, 0.9, 0.1, 0, 0, 0, 0, 0, 0, 0], { minConfidence: 0 })], [1], () => false)
      .coverage,
    1,
  );
});

test('a run trained with non-digits fits its sets at the end of training; its answers carry them, and they hold ~99% of the test digits', async () => {
  const dir = await nonDigitRunDir();
  const meta = await readMetadata(dir);
  const sets = meta.predictionSets!;
  assert.equal(sets.temperature, meta.temperature);
  assert.equal(sets.coverage, 0.99);
  assert.equal(sets.n.sure + sets.n.unsure + sets.validation.emptySets, meta.data.valCount);
  assert.ok(sets.validation.coverage >= 0.99 - sets.validation.emptySets / sets.validation.digits);
  const predictor = await Predictor.load(dir, { threads: 2 });
  try {
    assert.deepEqual(predictor.rule.sets, { unsureBelow: sets.unsureBelow, sure: sets.sure, unsure: sets.unsure });
    const test = (await loadMnist()).test;
    const figures = setFiguresOf(await predictor.probabilities(test), test.labels, predictor.outputs, predictor.rule);
    // (A quick run on 12,000 images: its test digits are about as hard as its validation ones.)
    assert.ok(figures.coverage >= 0.985, JSON.stringify(figures));
    assert.ok(figures.sizes['2'] > 0, 'some answers are unsure between two digits');
  } finally {
    await predictor.close();
  }
  // At another temperature the thresholds do not apply: the top digit alone.
  const other = await Predictor.load(dir, { threads: 1, temperature: 1 });
  try {
    assert.equal(other.rule.sets, undefined);
  } finally {
    await other.close();
  }
});

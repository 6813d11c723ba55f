/**
 * The not-a-digit rule end to end, on a small model trained with non-digits on its 11th output
 * (test/helpers/non-digit-run.ts: trained once, then cached): it refuses the generated
 * non-digits' test split in every category, and answers real digits.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadMnist } from '../../src/data/load.js';
import { PIXELS, type Dataset } from '../../src/data/types.js';
import { NON_DIGIT_CATEGORIES, drawNonDigit, nonDigitRng } from '../../src/image/non-digits.js';
import { readMetadata } from '../../src/model/run.js';
import { DIGIT_REFUSAL_BUDGET, fitThreshold } from '../../src/predict/non-digit-rule.js';
import type { Prediction } from '../../src/predict/interpret.js';
import { Predictor } from '../../src/predict/predictor.js';
import { createRng } from '../../src/util/rng.js';
import { FONTS, printedAs } from '../helpers/digit-pictures.js';
import { nonDigitRunDir } from '../helpers/non-digit-run.js';
import { quickRunDir } from '../helpers/quick-run.js';

test('the threshold refuses at most the budget of the validation digits, and reports the non-digits it refuses', () => {
  const digits = Array.from({ length: 1000 }, (_, i) => 2 + i / 100);
  const fit = fitThreshold(digits, [0, 0.5, 1, 2.5, 20], 0.003);
  assert.equal(fit.digitsRefused, 0.003);
  assert.ok(fit.below > 2.029 && fit.below <= 2.03, String(fit.below));
  assert.equal(fit.nonDigitsRefused, 0.6);
  assert.deepEqual([fit.digits, fit.nonDigits], [1000, 5]);
  assert.throws(() => fitThreshold([], [1]), /no validation digits/);
});

let predictor: Predictor;
let data: Dataset;
before(async () => {
  const dir = await nonDigitRunDir();
  predictor = await Predictor.load(dir, { threads: 2 });
  data = await loadMnist();
});
after(() => predictor?.close());

test('the run records its threshold, fitted on validation data, and the Predictor applies it', async () => {
  const meta = await readMetadata(predictor.dir);
  const rule = meta.nonDigitRule!;
  assert.ok(Number.isFinite(rule.below));
  assert.ok(rule.digitsRefused <= DIGIT_REFUSAL_BUDGET);
  assert.equal(rule.digits, 2000);
  assert.ok(rule.nonDigits > 300 && rule.nonDigitsRefused > 0.5);
  assert.ok(Math.abs(predictor.rule.notADigitBelow! - rule.below / predictor.temperature) < 1e-9);
  // The model has the not-a-digit output, and its answers show its probability.
  assert.equal(predictor.outputs, 11);
  const [dot] = await predictor.predict([
    predictor.preprocess(await drawNonDigit('scribble', 'test', nonDigitRng('test', 1, 'scribble', 0))),
  ]);
  assert.equal(dot.probabilities.length, 10);
  assert.ok(
    dot.notADigit !== undefined && Math.abs(dot.probabilities.reduce((a, b) => a + b, 0) + dot.notADigit - 1) < 1e-4,
  );
});

test("the non-digits' test split is answered null in every category, far more often than by a run trained without them", async () => {
  const rates: Record<string, { withRule: number; without: number }> = {};
  // The tests' quick run (the default net, 1 epoch on 6,000 digits): no non-digits, no fitted threshold.
  const plain = await Predictor.load(await quickRunDir(), { threads: 2 });
  try {
    for (const category of NON_DIGIT_CATEGORIES) {
      const pictures = [];
      for (let n = 0; n < 25; n++)
        pictures.push(await drawNonDigit(category, 'test', nonDigitRng('test', 1, category, n)));
      const answers = await predictor.predict(pictures.map((p) => predictor.preprocess(p)));
      assert.ok(
        answers.every((a) => a.digit !== null || a.reason),
        'every null answer says why',
      );
      const without = await plain.predict(pictures.map((p) => plain.preprocess(p)));
      rates[category] = {
        withRule: answers.filter((a) => a.digit === null).length / 25,
        without: without.filter((a) => a.digit === null).length / 25,
      };
    }
  } finally {
    await plain.close();
  }
  // A small model (compact, 3 epochs on 12,000 digits, 200 non-digits per category): bounds below
  // what it reaches; `npm start`'s recipe reaches far more (README, bench/non-digits.ts).
  // (Measured when written: 85% overall against 74%; letters 60% against 24%.)
  const all = (key: 'withRule' | 'without') =>
    NON_DIGIT_CATEGORIES.reduce((sum, c) => sum + rates[c][key], 0) / NON_DIGIT_CATEGORIES.length;
  const shown = JSON.stringify(rates);
  assert.ok(all('withRule') >= 0.78, shown);
  assert.ok(all('withRule') >= all('without') + 0.06, shown);
  for (const category of NON_DIGIT_CATEGORIES) assert.ok(rates[category].withRule >= 0.5, `${category}: ${shown}`);
  for (const category of ['blank', 'dot', 'noise', 'hatching'] as const)
    assert.ok(rates[category].withRule >= 0.9, `${category}: ${shown}`);
  assert.ok(rates.letter.withRule >= rates.letter.without + 0.2, shown);
});

test('real digits are answered: MNIST test digits (what it refuses are mostly its errors) and printed digits', async () => {
  const n = 2000;
  const test = { images: data.test.images.subarray(0, n * PIXELS), labels: data.test.labels.subarray(0, n), count: n };
  const probs = await predictor.probabilities(test);
  let refused = 0;
  let wrong = 0;
  let wrongRefused = 0;
  for (let i = 0; i < n; i++) {
    const answer = predictor.interpret(probs.subarray(i * predictor.outputs, (i + 1) * predictor.outputs));
    const right = answer.probabilities.indexOf(answer.confidence) === test.labels[i];
    if (answer.digit === null) refused++;
    if (!right) wrong++;
    if (!right && answer.digit === null) wrongRefused++;
  }
  // Fitted to refuse 0.3% of the validation digits; this small model's test digits fall lower
  // (2.2% refused: its val/test quantiles differ; the full recipe's do not, README).
  assert.ok(refused / n <= 0.04, `${refused} of ${n} MNIST test digits refused`);
  // What it refuses are mostly its errors: a refused digit is far more often wrong than an answered one.
  assert.ok(
    wrongRefused / refused > (5 * (wrong - wrongRefused)) / (n - refused),
    `${wrongRefused} of ${refused} refused are errors, ${wrong - wrongRefused} of ${n - refused} answered`,
  );
  const rng = createRng(5);
  const answers: Prediction[] = [];
  for (let d = 0; d < 10; d++) {
    const g = await printedAs('printed', d, FONTS[d % FONTS.length], rng);
    [answers[d]] = await predictor.predict([await predictor.preprocessBytes(g.bytes, 'digit.png')]);
  }
  assert.ok(
    answers.filter((a) => a.digit === null).length <= 1,
    JSON.stringify(answers.map((a) => [a.digit, a.reason])),
  );
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyTemperature } from '../../src/metrics/calibration.js';
import {
  interpretProbabilities,
  notADigitScore,
  predictionSet,
  setInWords,
  standOut,
} from '../../src/predict/interpret.js';
import { createRng } from '../../src/util/rng.js';

const softmax = (logits: number[]) => {
  const m = Math.max(...logits);
  const e = logits.map((l) => Math.exp(l - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};

test('standOut is the top logit minus the mean logit: 0 for uniform, divided by the temperature', () => {
  assert.ok(Math.abs(standOut(new Array(10).fill(0.1))) < 1e-12);
  const rng = createRng(3);
  for (let t = 0; t < 20; t++) {
    const logits = Array.from({ length: 10 }, () => 4 * rng.normal());
    const expected = Math.max(...logits) - logits.reduce((a, b) => a + b, 0) / 10;
    const p = softmax(logits);
    assert.ok(Math.abs(standOut(p) - expected) < 1e-9);
    for (const T of [0.4, 2])
      assert.ok(
        Math.abs(standOut(applyTemperature(Float32Array.from(p), T)) - expected / T) < 1e-3 * Math.max(1, expected / T),
      );
  }
  // Probabilities that underflowed to 0 count as tiny, not as -Infinity.
  assert.ok(Number.isFinite(standOut([1, 0, 0, 0, 0, 0, 0, 0, 0, 0])));
});

test("the not-a-digit threshold refuses with its reason; preprocessing's verdict comes first; then the minimum confidence", () => {
  const rule = { minConfidence: 0.5, notADigitBelow: 2 };
  const flat = softmax([0.5, 0, 0, 0, 0, 0, 0, 0, 0, 0.4]);
  const refused = interpretProbabilities(flat, rule);
  assert.equal(refused.digit, null);
  assert.match(refused.reason!, /^not a digit \(confidence 0\.\d\d; stand-out 0\.\d\d < 2\.00\)$/);
  const sure = softmax([8, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  assert.equal(interpretProbabilities(sure, rule).digit, 0);
  assert.equal(interpretProbabilities(sure, rule, 'too small').reason, 'too small');
  // Without a fitted threshold (runs trained without non-digits) only the minimum confidence applies.
  assert.match(interpretProbabilities(flat, { minConfidence: 0.5 }).reason!, /^low confidence/);
  // Stands out enough, yet below the minimum confidence: two digits share the probability.
  const two = softmax([6, 6, 0, 0, 0, 0, 0, 0, 0, 0]);
  assert.match(interpretProbabilities(two, rule).reason!, /^low confidence/);
});

test('a low-confidence reason shows the confidence below its threshold, never rounded up to it', () => {
  const row = [0.9999984, 0.0000016, 0, 0, 0, 0, 0, 0, 0, 0];
  assert.equal(interpretProbabilities(row, { minConfidence: 0.999999 }).reason, 'low confidence (0.999998 < 0.999999)');
  const plain = [0.314, 0.286, 0.4, 0, 0, 0, 0, 0, 0, 0];
  assert.equal(interpretProbabilities(plain, { minConfidence: 0.5 }).reason, 'low confidence (0.40 < 0.5)');
});

test('with the 11th output: the score is ln p(best digit) - ln p(not a digit), its decisions the same at every temperature, and answers show ten digits and notADigit', () => {
  const rng = createRng(5);
  for (let t = 0; t < 20; t++) {
    const logits = Array.from({ length: 11 }, () => 4 * rng.normal());
    const expected = Math.max(...logits.slice(0, 10)) - logits[10];
    const p = softmax(logits);
    assert.ok(Math.abs(notADigitScore(p) - expected) < 1e-9);
    for (const T of [0.4, 2]) {
      const tempered = applyTemperature(Float32Array.from(p), T, 11);
      assert.ok(Math.abs(notADigitScore(tempered) - expected / T) < 1e-3 * Math.max(1, Math.abs(expected / T)));
      // The threshold divided by T refuses the same rows.
      assert.equal(
        interpretProbabilities(tempered, { minConfidence: 0, notADigitBelow: 1 / T }).digit === null,
        expected < 1,
      );
    }
  }
  // Ten digit logits ≈ 0 and "not a digit" far above them: refused, with both probabilities in the reason.
  const dot = softmax([0, 0, 0.5, 0, 0, 0, 0, 0, 0, 0, 5]);
  const refused = interpretProbabilities(dot, { minConfidence: 0.5, notADigitBelow: 1.2 });
  assert.equal(refused.digit, null);
  assert.equal(refused.probabilities.length, 10);
  assert.ok(Math.abs(refused.notADigit! - dot[10]) < 1e-6);
  assert.match(refused.reason!, /^not a digit \(not-a-digit 0\.93, best digit 0\.01: margin -4\.50 < 1\.20\)$/);
  // A clear 3: answered, its probabilities sum with notADigit to 1.
  const three = softmax([0, 0, 0, 9, 0, 0, 0, 0, 0, 0, -3]);
  const answered = interpretProbabilities(three, { minConfidence: 0.5, notADigitBelow: 1.2 });
  assert.equal(answered.digit, 3);
  assert.ok(Math.abs(answered.probabilities.reduce((a, b) => a + b, 0) + answered.notADigit! - 1) < 1e-5);
  // Ten outputs: no notADigit field.
  assert.equal(
    'notADigit' in interpretProbabilities(softmax([8, 0, 0, 0, 0, 0, 0, 0, 0, 0]), { minConfidence: 0.5 }),
    false,
  );
});

test("prediction sets: the top digit, and the others at or above their group's threshold; sure answers by one threshold, unsure ones by the other", () => {
  const sets = { unsureBelow: 0.99, sure: 0.5, unsure: 0.05 };
  // Sure (top share 0.995 >= 0.99): a digit joins only at 0.5, so none.
  assert.deepEqual(predictionSet([0, 0, 0, 0, 0.995, 0, 0, 0, 0, 0.005], sets), [4]);
  // Unsure: every digit at 0.05 or more, most likely first after the top one.
  assert.deepEqual(predictionSet([0, 0.04, 0, 0, 0.6, 0, 0, 0.1, 0, 0.26], sets), [4, 9, 7]);
  // The shares are of the ten digits: a not-a-digit probability (11th value) is left out of them.
  assert.deepEqual(predictionSet([0, 0, 0, 0, 0.45, 0, 0, 0, 0, 0.045, 0.505], sets), [4, 9]);
  // Threshold 0 (a group with too few validation digits to promise anything): every digit.
  assert.equal(predictionSet([0, 0, 0, 0, 0.6, 0, 0, 0, 0, 0.4], { ...sets, unsure: 0 }).length, 10);
  // Without a rule: the top digit alone.
  assert.deepEqual(predictionSet([0, 0, 0, 0, 0.6, 0, 0, 0, 0, 0.4], undefined), [4]);
  assert.equal(setInWords([4]), '4');
  assert.equal(setInWords([4, 9]), '4 or 9');
  assert.equal(setInWords([4, 9, 7]), '4, 9 or 7');
  assert.equal(setInWords([]), 'none');
});

test('answers carry their set: given with a low-confidence null, empty when the picture is taken for no digit at all', () => {
  const rule = { minConfidence: 0.5, notADigitBelow: 1, sets: { unsureBelow: 0.99, sure: 1, unsure: 0.05 } };
  assert.deepEqual(interpretProbabilities(softmax([0, 0, 0, 9, 0, 0, 0, 0, 0, 0, -3]), rule).set, [3]);
  const unsure = interpretProbabilities(softmax([0, 0, 0, 0, 6, 0, 0, 5.5, 0, 6.2, 0]), rule);
  assert.equal(unsure.digit, null);
  assert.match(unsure.reason!, /^low confidence/);
  assert.deepEqual(unsure.set, [9, 4, 7]);
  const dot = interpretProbabilities(softmax([0, 0, 0.5, 0, 0, 0, 0, 0, 0, 0, 5]), rule);
  assert.deepEqual(dot.set, []);
  assert.deepEqual(interpretProbabilities(softmax([0, 0, 0, 9, 0, 0, 0, 0, 0, 0, -3]), rule, 'too small').set, []);
  // The set's first digit is the answer.
  const rng = createRng(9);
  for (let t = 0; t < 50; t++) {
    const answer = interpretProbabilities(softmax(Array.from({ length: 11 }, () => 3 * rng.normal())), {
      minConfidence: 0,
      sets: rule.sets,
    });
    assert.equal(answer.set[0], answer.digit);
  }
});

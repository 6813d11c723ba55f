/**
 * Fitting the "not a digit" threshold of a run trained with non-digits: the score (interpret.ts
 * `notADigitScore`: the best digit's margin over the 11th "not a digit" output, or for older runs
 * trained with outlier exposure the stand-out, top logit minus mean logit) below which an answer
 * is `digit: null`. It is fitted on the model's own probabilities (temperature 1), so it does not
 * depend on the calibration; the Predictor divides it by the run's temperature to apply it to
 * calibrated probabilities (AnswerRule.notADigitBelow). Chosen on validation data only: the run's
 * MNIST validation split sets it (at most DIGIT_REFUSAL_BUDGET of those digits fall below it),
 * and a validation draw of the generated non-digits' train split (another seed, never the test
 * split) says how many non-digits it refuses. Both rates are stored with it in metadata.json.
 */
import type * as tf from '@tensorflow/tfjs';
import type { BackendName } from '../backend/names.js';
import type { ImageSet } from '../data/types.js';
import { nonDigitSet, packPixels } from '../image/non-digits.js';
import type { NonDigitRuleRecord } from '../model/run.js';
import { notADigitScore } from './interpret.js';
import { Predictor } from './predictor.js';

/**
 * Share of validation digits the threshold may refuse. The target is at most 0.5% of MNIST test
 * digits refused; fitting to 0.3% on 5,000 validation digits leaves room for the sampling error
 * (±0.08% at one standard deviation) and for the photo pipeline's harder inputs.
 */
export const DIGIT_REFUSAL_BUDGET = 0.003;

/** Validation non-digits: the train split drawn with another seed, this many per category. */
export const NON_DIGIT_VAL_SEED_OFFSET = 1000;
const NON_DIGIT_VAL_PER_CATEGORY = 100;

/** The not-a-digit score of each row of n x `outputs` probabilities. */
export function notADigitScores(probs: Float32Array, outputs: number): Float32Array {
  const n = Math.floor(probs.length / outputs);
  return Float32Array.from({ length: n }, (_, i) => notADigitScore(probs.subarray(i * outputs, (i + 1) * outputs)));
}

/**
 * The threshold: the highest one that refuses at most `budget` of the digits (their scores
 * `digitScores`), rounded down to 4 decimals. `nonDigitScores` only reports what it refuses.
 */
export function fitThreshold(
  digitScores: ArrayLike<number>,
  nonDigitScores: ArrayLike<number>,
  budget = DIGIT_REFUSAL_BUDGET,
): NonDigitRuleRecord {
  const sorted = Float64Array.from(digitScores).sort();
  if (sorted.length === 0) throw new RangeError('no validation digits to fit a not-a-digit threshold on');
  // Refused: confidence < below. The k-th smallest confidence refuses at most k digits.
  const k = Math.min(sorted.length - 1, Math.floor(budget * sorted.length));
  const below = Math.floor(sorted[k] * 1e4) / 1e4;
  const refused = (values: ArrayLike<number>) => Array.from(values).filter((v) => v < below).length;
  return {
    below,
    digitsRefused: refused(sorted) / sorted.length,
    nonDigitsRefused: nonDigitScores.length ? refused(nonDigitScores) / nonDigitScores.length : 0,
    digits: sorted.length,
    nonDigits: nonDigitScores.length,
  };
}

/** The validation non-digits that reach the model (preprocessing refuses the others itself), as an image set. */
async function nonDigitValidationSet(seed: number, perCategory = NON_DIGIT_VAL_PER_CATEGORY): Promise<ImageSet> {
  const samples = (await nonDigitSet({ split: 'train', perCategory, seed: seed + NON_DIGIT_VAL_SEED_OFFSET })).filter(
    (s) => !s.reason,
  );
  const { images, count } = packPixels(samples);
  return { images, labels: new Uint8Array(count), count };
}

/**
 * Fit a finished run's not-a-digit threshold with its best model (its own probabilities,
 * uncalibrated), through the one inference path (Predictor).
 */
export async function fitNonDigitRule(
  model: tf.LayersModel,
  valDigits: ImageSet,
  options: { seed: number; threads?: number; backend?: BackendName; batchSize?: number; nonDigits?: ImageSet },
): Promise<NonDigitRuleRecord> {
  const inference = {
    threads: options.threads,
    backend: options.backend,
    batchSize: options.batchSize,
    temperature: 1,
  };
  return Predictor.withModel(model, inference, (predictor) => fitNonDigitRuleWith(predictor, valDigits, options));
}

/**
 * The same fit with a Predictor already running (its temperature does not matter: the fit reads
 * the model's own probabilities): what `ensemble` does after fitting the ensemble's temperature
 * (evaluate/evaluate.ts `calibrateRun`), with the run's seed for the validation non-digits.
 */
export async function fitNonDigitRuleWith(
  predictor: Predictor,
  valDigits: ImageSet,
  options: { seed: number; nonDigits?: ImageSet },
): Promise<NonDigitRuleRecord> {
  const nonDigits = options.nonDigits ?? (await nonDigitValidationSet(options.seed));
  const digits = notADigitScores(await predictor.probabilities(valDigits, { calibrated: false }), predictor.outputs);
  const others = notADigitScores(await predictor.probabilities(nonDigits, { calibrated: false }), predictor.outputs);
  return fitThreshold(digits, others);
}

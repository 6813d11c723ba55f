/**
 * How far a run's answers can be trusted, measured by `evaluate` (metrics.json `trust`) for the
 * report and the trust bench: on the evaluated digits and on the same digits as people's pictures
 * of them (image/digit-pictures.ts, through the photo pipeline), the risk-coverage curve (accuracy
 * of the answered against the share answered, as the minimum confidence rises), the answers at
 * the default minimum confidence, the lowest minimum confidence that keeps the answered right
 * `ACCURACY_TARGET` of the time, and the prediction sets; on the generated non-digits' test split
 * (image/non-digits.ts: other seeds, fonts and shapes than anything a run trains or fits on; on
 * the validation split, its validation draws instead), the share refused per category, and
 * which pictures were answered.
 */
import type { ImageSet } from '../data/types.js';
import { withPicturedDigits } from '../image/digit-pictures.js';
import {
  NON_DIGIT_CATEGORIES,
  nonDigitSet,
  packPixels,
  type NonDigitCategory,
  type NonDigitSplit,
} from '../image/non-digits.js';
import {
  atThreshold,
  lowestThresholdFor,
  riskCoverage,
  type RiskCoverage,
  type RiskCoveragePoint,
} from '../metrics/risk-coverage.js';
import {
  DEFAULT_MIN_CONFIDENCE,
  argmax,
  digitShares,
  interpretProbabilities,
  type AnswerRule,
  type Prediction,
} from '../predict/interpret.js';
import { NON_DIGIT_VAL_SEED_OFFSET } from '../predict/non-digit-rule.js';
import { setFigures, type SetFigures } from '../predict/prediction-sets.js';
import type { Predictor } from '../predict/predictor.js';
import { createRng } from '../util/rng.js';

/** The answered accuracy the default minimum confidence must keep (on validation: MNIST and pictured digits). */
const ACCURACY_TARGET = 0.995;

/** The seed of the pictures made of the evaluated digits: the same pictures for every run. */
const PICTURED_SEED = 1;

/** Non-digits of each category drawn from the test split (seed 1): a refusal rate to within about ±1.2 points at 97%. */
const NON_DIGITS_PER_CATEGORY = 200;

/** Most images listed for a gallery (refused digits, answered non-digits). */
const LISTED = 48;

/** What a run does with a set of digits. */
export interface DigitTrust {
  n: number;
  riskCoverage: RiskCoverage;
  /** At the default minimum confidence (predict/interpret.ts DEFAULT_MIN_CONFIDENCE): share answered, their accuracy, share refused. */
  atDefault: RiskCoveragePoint & { refused: number };
  /** The lowest minimum confidence whose answered are right ACCURACY_TARGET of the time, if any. */
  forTarget?: RiskCoveragePoint;
  /** The prediction sets (a run with fitted sets). */
  sets?: SetFigures;
  /** The first digits refused at the default minimum confidence: index in the set, true digit, reason. */
  refused: { index: number; label: number; reason: string }[];
}

export interface NonDigitTrust {
  /**
   * The generator's split and seed: its test split (seed 1) when a run is evaluated on its test
   * set; when on its validation split, the validation draws its not-a-digit threshold was fitted
   * with (the train split at the run's seed + NON_DIGIT_VAL_SEED_OFFSET), so that nothing of
   * the test split is seen.
   */
  split: NonDigitSplit;
  seed: number;
  perCategory: number;
  /** Share refused (answered null at the default minimum confidence), over all categories. */
  refused: number;
  byCategory: Record<
    NonDigitCategory,
    {
      n: number;
      refused: number;
      reasons: Record<string, number>;
      answered: { n: number; digit: number; confidence: number }[];
    }
  >;
}

/** metrics.json's `trust`. */
export interface TrustEvaluation {
  minConfidence: number;
  accuracyTarget: number;
  /** The evaluated digits as they are (MNIST form). */
  digits: DigitTrust;
  /** The same digits as pictures through the photo pipeline (seed PICTURED_SEED). */
  pictured: DigitTrust;
  /**
   * The lowest minimum confidence whose answered are right ACCURACY_TARGET of the time on the
   * digits and their pictures together: on the validation split, what DEFAULT_MIN_CONFIDENCE is
   * chosen by (docs/trust.md).
   */
  forTargetBoth?: RiskCoveragePoint;
  /** A run that can say "not a digit" (with a fitted threshold): the generated non-digits. */
  nonDigits?: NonDigitTrust;
}

/** Reason without its numbers: 'not a digit (margin 0.31 < 0.62)' → 'not a digit'. */
export const reasonKind = (reason: string) => reason.replace(/\s*\(.*\)$/, '');

/** Each digit's answer with no minimum confidence, its confidence and whether its top digit is right. */
function answersOf(
  probs: Float32Array,
  set: ImageSet,
  outputs: number,
  rule: AnswerRule,
): { answers: Prediction[]; confidence: Float32Array; correct: boolean[] } {
  const free = { ...rule, minConfidence: 0 };
  const answers: Prediction[] = [];
  const confidence = new Float32Array(set.count);
  const correct: boolean[] = [];
  for (let i = 0; i < set.count; i++) {
    const row = probs.subarray(i * outputs, (i + 1) * outputs);
    answers.push(interpretProbabilities(row, free));
    confidence[i] = answers[i].confidence;
    correct.push(argmax(row, 10) === set.labels[i]);
  }
  return { answers, confidence, correct };
}

/** The trust figures of a set of labelled digits from their calibrated probabilities, under the Predictor's rule. */
export function digitTrust(probs: Float32Array, set: ImageSet, outputs: number, rule: AnswerRule): DigitTrust {
  const n = set.count;
  const { answers, confidence, correct } = answersOf(probs, set, outputs, rule);
  const answerable = (i: number) => answers[i].digit !== null;
  const refused: DigitTrust['refused'] = [];
  let refusedCount = 0;
  for (let i = 0; i < n; i++) {
    const atDefault = interpretProbabilities(probs.subarray(i * outputs, (i + 1) * outputs), {
      ...rule,
      minConfidence: DEFAULT_MIN_CONFIDENCE,
    });
    if (atDefault.digit !== null) continue;
    refusedCount++;
    if (refused.length < LISTED) refused.push({ index: i, label: set.labels[i], reason: atDefault.reason ?? '' });
  }
  const figures: DigitTrust = {
    n,
    riskCoverage: riskCoverage(confidence, correct, answerable),
    atDefault: {
      ...atThreshold(confidence, correct, DEFAULT_MIN_CONFIDENCE, answerable),
      refused: n ? refusedCount / n : 0,
    },
    forTarget: lowestThresholdFor(confidence, correct, ACCURACY_TARGET, answerable),
    refused,
  };
  if (rule.sets) {
    const unsureBelow = rule.sets.unsureBelow;
    figures.sets = setFigures(
      answers,
      set.labels,
      (i) =>
        answers[i].set.length > 0 &&
        digitShares(probs.subarray(i * outputs, (i + 1) * outputs))[answers[i].set[0]] < unsureBelow,
    );
  }
  return figures;
}

/** Generated non-digits through a run (the test split unless told): refused per category at the default minimum confidence. */
export async function nonDigitTrust(
  predictor: Predictor,
  options: { perCategory?: number; split?: NonDigitSplit; seed?: number } = {},
): Promise<NonDigitTrust> {
  const perCategory = options.perCategory ?? NON_DIGITS_PER_CATEGORY;
  const split = options.split ?? 'test';
  const seed = options.seed ?? 1;
  const samples = await nonDigitSet({ split, perCategory, seed });
  // Those preprocessing refuses never reach the model; the others go as the model inputs they are.
  const reaching = samples.filter((s) => !s.reason);
  const probs = await predictor.probabilities({ ...packPixels(reaching), labels: new Uint8Array(reaching.length) });
  const rule = { ...predictor.rule, minConfidence: DEFAULT_MIN_CONFIDENCE };
  const byCategory = Object.fromEntries(
    NON_DIGIT_CATEGORIES.map((c) => [
      c,
      { n: 0, refused: 0, reasons: {}, answered: [] as { n: number; digit: number; confidence: number }[] },
    ]),
  ) as NonDigitTrust['byCategory'];
  let row = 0;
  samples.forEach((sample, i) => {
    const figures = byCategory[sample.category];
    const number = i - NON_DIGIT_CATEGORIES.indexOf(sample.category) * perCategory;
    const answer = sample.reason
      ? undefined
      : interpretProbabilities(probs.subarray(row * predictor.outputs, (row + 1) * predictor.outputs), rule);
    if (!sample.reason) row++;
    figures.n++;
    if (answer && answer.digit !== null) {
      figures.answered.push({ n: number, digit: answer.digit, confidence: answer.confidence });
      return;
    }
    figures.refused++;
    const kind = reasonKind(sample.reason ?? answer?.reason ?? '');
    figures.reasons[kind] = (figures.reasons[kind] ?? 0) + 1;
  });
  let refused = 0;
  for (const figures of Object.values(byCategory)) {
    refused += figures.refused;
    figures.refused /= Math.max(1, figures.n);
    figures.answered = figures.answered.slice(0, LISTED);
  }
  return { split, seed, perCategory, refused: refused / Math.max(1, samples.length), byCategory };
}

/** The evaluated digits as pictures through the run's photo pipeline (the same pictures for every run). */
function picturedDigits(set: ImageSet, predictor: Predictor): ImageSet {
  return withPicturedDigits(set, 1, createRng(PICTURED_SEED), predictor.spec);
}

/**
 * Every trust figure of a run on a set of MNIST-form digits, with `probs` its calibrated
 * probabilities already computed (evaluate's).
 */
export async function trustEvaluation(
  predictor: Predictor,
  set: ImageSet,
  probs: Float32Array,
  options: { nonDigits?: boolean; perCategory?: number; validation?: { seed: number } } = {},
): Promise<TrustEvaluation> {
  const pictured = picturedDigits(set, predictor);
  const picturedProbs = await predictor.probabilities(pictured);
  const bothProbs = new Float32Array(probs.length + picturedProbs.length);
  bothProbs.set(probs);
  bothProbs.set(picturedProbs, probs.length);
  const bothLabels = new Uint8Array(set.count * 2);
  bothLabels.set(set.labels);
  bothLabels.set(pictured.labels, set.count);
  const both = answersOf(
    bothProbs,
    { images: new Uint8Array(0), labels: bothLabels, count: bothLabels.length },
    predictor.outputs,
    predictor.rule,
  );
  const trust: TrustEvaluation = {
    minConfidence: DEFAULT_MIN_CONFIDENCE,
    accuracyTarget: ACCURACY_TARGET,
    digits: digitTrust(probs, set, predictor.outputs, predictor.rule),
    pictured: digitTrust(picturedProbs, pictured, predictor.outputs, predictor.rule),
    forTargetBoth: lowestThresholdFor(
      both.confidence,
      both.correct,
      ACCURACY_TARGET,
      (i) => both.answers[i].digit !== null,
    ),
  };
  if (options.nonDigits !== false && predictor.rule.notADigitBelow !== undefined) {
    const draws = options.validation
      ? { split: 'train' as const, seed: options.validation.seed + NON_DIGIT_VAL_SEED_OFFSET }
      : { split: 'test' as const, seed: 1 };
    trust.nonDigits = await nonDigitTrust(predictor, { perCategory: options.perCategory, ...draws });
  }
  return trust;
}

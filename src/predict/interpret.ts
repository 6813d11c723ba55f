/**
 * The rule that turns a model's probabilities (ten digits, or ten digits and "not a digit") into
 * an answer: a digit, or `null` with the reason. The one copy of it: Predictor (CLI, API,
 * evaluation) and the page's in-browser mode (bundled from this file) both call
 * `interpretProbabilities`. Pure TypeScript with no imports but two constants, so that the page
 * bundle stays small.
 */
import { NOT_A_DIGIT, NUM_CLASSES } from '../data/types.js';

export interface Prediction {
  /** null when the input is not a digit, or the model is not sure enough. */
  digit: number | null;
  /** The highest of the ten digits' probabilities. */
  confidence: number;
  /**
   * The ten digits' probabilities. With a not-a-digit output they sum to 1 − `notADigit`: each is
   * the probability that the picture is that digit.
   */
  probabilities: number[];
  /** The probability that the picture is no digit at all: models with the 11th output only. */
  notADigit?: number;
  /**
   * The prediction set: the digits, most likely first, that hold the true one with the run's
   * coverage (99% unless fitted otherwise; `SetRule`). One digit when the model is sure, more
   * ("4 or 9") when it is not, given also with a low-confidence `null`; empty when the picture is
   * taken for no digit at all. Runs fitted before sets existed give the most likely digit alone.
   */
  set: number[];
  /**
   * Why `digit` is null: preprocessing's verdict ('blank', 'no dominant stroke', 'too small'),
   * the run's fitted not-a-digit threshold ('not a digit (not-a-digit 0.93, best digit 0.05: margin
   * -2.92 < 1.20)', see `notADigitScore`), or 'low confidence (0.31 < 0.5)'.
   */
  reason?: string;
}

/** What decides between a digit and `null`; saved with the server's model info for the page. */
export interface AnswerRule {
  /** Below this confidence the answer is `digit: null` instead of a likely wrong digit. */
  minConfidence: number;
  /**
   * When the `notADigitScore` of the probabilities is below this, the picture is taken for no digit
   * at all: the threshold a run trained with non-digits fitted on its validation digits, so that
   * about 0.3% of them fall below it (metadata.json `nonDigitRule`, predict/non-digit-rule.ts),
   * divided by the calibration temperature of the probabilities it is applied to.
   */
  notADigitBelow?: number;
  /** The prediction sets' thresholds (metadata.json `predictionSets`), for probabilities at the temperature they were fitted at. */
  sets?: SetRule;
}

/**
 * How a prediction set is made (split conformal prediction, fitted on the validation split by
 * predict/prediction-sets.ts): the most likely digit, and every other digit whose probability is
 * at least the threshold of the answer's group. Two groups (Mondrian conformal prediction): `sure`
 * answers, whose top probability is at least `unsureBelow` (the coverage itself: where the model
 * says it is at least that sure), and `unsure` ones. Each group's threshold was fitted on its own
 * validation digits, so that sets hold the true digit with the coverage in each group: also when
 * the model is unsure, not only on average. The probabilities are the ten digits' ones scaled to
 * sum to 1 (`digitShares`): which digit, if it is one.
 */
export interface SetRule {
  /** Answers whose top digit's share is below this are in the `unsure` group; the others are `sure`. */
  unsureBelow: number;
  /** The share another digit needs to join a `sure` answer's set. */
  sure: number;
  /** The share another digit needs to join an `unsure` answer's set. */
  unsure: number;
}

/**
 * The minimum confidence answers are given at unless the caller says another: chosen on the
 * shipped model's validation split (never the test set), the lowest that keeps the answered right
 * at least 99.5% of the time on its validation digits and the same digits as pictures together
 * (the highest coverage that keeps it), rounded up to the thousandth (`npm run bench -- --only
 * trust` measures it: `validation`; docs/trust.md). Lower answers more and gets more of them wrong.
 */
export const DEFAULT_MIN_CONFIDENCE = 0.417;

/**
 * A model's answer rule from what its run records: the caller's minimum confidence, the
 * not-a-digit threshold of metadata.json's `nonDigitRule` (fitted on the model's own
 * probabilities) divided by the calibration temperature, so that it applies to the calibrated
 * probabilities every answer is read from (see `notADigitScore`), and the prediction sets of
 * `predictionSets` when they were fitted at that temperature (a Predictor told another one gives
 * the top digit alone). Predictor (Node) and the browser reader (src/browser/) both build their
 * rule here.
 */
export function answerRule(
  minConfidence: number,
  temperature: number,
  nonDigitRule?: { below: number },
  predictionSets?: SetRule & { temperature: number },
): AnswerRule {
  const below = nonDigitRule?.below;
  const rule: AnswerRule =
    below === undefined ? { minConfidence } : { minConfidence, notADigitBelow: below / temperature };
  if (predictionSets && Math.abs(predictionSets.temperature - temperature) <= 1e-9 * temperature) {
    rule.sets = { unsureBelow: predictionSets.unsureBelow, sure: predictionSets.sure, unsure: predictionSets.unsure };
  }
  return rule;
}

/** Probabilities are rounded to 6 decimals: more digits are noise, and they make answers long. */
const DECIMALS = 6;

/** The index of the largest of the first `count` values (all of them by default). */
export function argmax(values: ArrayLike<number>, count = values.length): number {
  let best = 0;
  for (let k = 1; k < count; k++) if (values[k] > values[best]) best = k;
  return best;
}

/** Probabilities this small are taken as this (float32 softmax outputs can underflow to 0). */
const SMALLEST_PROBABILITY = 1e-30;

/**
 * How far the most likely class stands out from the average class: log p_max − mean_k log p_k,
 * that is the top logit minus the mean logit, divided by the temperature the probabilities were
 * calibrated with. 0 for uniform probabilities (what outlier exposure, the not-a-digit training
 * before the 11th output, taught for non-digits).
 * The ranking of pictures by it is the same at every temperature, and it separated the generated
 * non-digits from MNIST digits better than the calibrated top probability did: on a compact net
 * with outlier exposure, at 0.3% of validation digits refused, 86.3% of the non-digits' test split
 * refused against 81.7% (bench/non-digits.ts).
 */
export function standOut(row: ArrayLike<number>): number {
  let top = -Infinity;
  let sum = 0;
  for (let k = 0; k < row.length; k++) {
    const logP = Math.log(Math.max(row[k], SMALLEST_PROBABILITY));
    top = Math.max(top, logP);
    sum += logP;
  }
  return top - sum / row.length;
}

/**
 * How much a row of probabilities looks like a digit; the run's threshold (`notADigitBelow`)
 * refuses the rows below it. Both kinds of score are a difference of logits, so a temperature T
 * divides them by T and the threshold divided by T makes the same decisions at every T.
 * - With the 11th "not a digit" output (11 values): the margin of the best digit over it,
 *   ln p(best digit) − ln p(not a digit). (It refuses a 50/50 between two digits a little sooner
 *   than ln p(any digit) − ln p(not a digit) would, by ln 2; such answers are the likeliest wrong.)
 * - Ten digits only: `standOut`, for runs trained with outlier exposure before the 11th output.
 */
export function notADigitScore(row: ArrayLike<number>): number {
  if (row.length !== NUM_CLASSES + 1) return standOut(row);
  const best = argmax(row, NUM_CLASSES);
  return (
    Math.log(Math.max(row[best], SMALLEST_PROBABILITY)) - Math.log(Math.max(row[NOT_A_DIGIT], SMALLEST_PROBABILITY))
  );
}

/** The ten digits' probabilities of a row (10 or 11 values) scaled to sum to 1: the chances of each digit if the picture is one. */
export function digitShares(row: ArrayLike<number>): number[] {
  let sum = 0;
  for (let k = 0; k < NUM_CLASSES; k++) sum += row[k];
  return Array.from({ length: NUM_CLASSES }, (_, k) => (sum > 0 ? row[k] / sum : 1 / NUM_CLASSES));
}

/**
 * The prediction set of a row of probabilities (see `SetRule`): `top` (by default the most likely
 * digit), then the other digits that make the set, most likely first; without a rule, `top` alone.
 */
export function predictionSet(
  row: ArrayLike<number>,
  rule: SetRule | undefined,
  top = argmax(row, NUM_CLASSES),
): number[] {
  if (!rule) return [top];
  const shares = digitShares(row);
  const threshold = shares[top] < rule.unsureBelow ? rule.unsure : rule.sure;
  const others = shares.map((_, k) => k).filter((k) => k !== top && shares[k] >= threshold);
  return [top, ...others.sort((a, b) => shares[b] - shares[a] || a - b)];
}

/** A prediction set in words, as the CLI and the page show it: "4", "4 or 9", "4, 9 or 7"; "none" when empty. */
export function setInWords(set: readonly number[]): string {
  if (set.length === 0) return 'none';
  return set.length === 1 ? String(set[0]) : `${set.slice(0, -1).join(', ')} or ${set[set.length - 1]}`;
}

/**
 * One image's answer from its row of probabilities (10 digits, or 10 digits and not-a-digit).
 * `notADigit` is preprocessing's verdict ('blank', 'no dominant stroke', 'too small'), which wins
 * over any probability; then the run's not-a-digit threshold; then the caller's minimum confidence.
 */
export function interpretProbabilities(row: ArrayLike<number>, rule: AnswerRule, notADigit?: string): Prediction {
  // (The score is read before rounding: rounding turns small probabilities into 0.)
  const score = rule.notADigitBelow === undefined || notADigit ? 0 : notADigitScore(row);
  const rounded = Array.from(row, (p) => Number(p.toFixed(DECIMALS)));
  const probabilities = rounded.slice(0, NUM_CLASSES);
  const best = argmax(probabilities);
  const confidence = probabilities[best];
  const common =
    rounded.length > NUM_CLASSES
      ? { confidence, probabilities, notADigit: rounded[NOT_A_DIGIT] }
      : { confidence, probabilities };
  if (notADigit) return { digit: null, ...common, set: [], reason: notADigit };
  if (rule.notADigitBelow !== undefined && score < rule.notADigitBelow) {
    const why =
      common.notADigit === undefined
        ? `confidence ${confidence.toFixed(2)}; stand-out ${score.toFixed(2)}`
        : `not-a-digit ${common.notADigit.toFixed(2)}, best digit ${confidence.toFixed(2)}: margin ${score.toFixed(2)}`;
    return { digit: null, ...common, set: [], reason: `not a digit (${why} < ${rule.notADigitBelow.toFixed(2)})` };
  }
  // (From the probabilities before rounding, as the thresholds were fitted.)
  const answer = { ...common, set: predictionSet(row, rule.sets, best) };
  if (confidence < rule.minConfidence) {
    return {
      digit: null,
      ...answer,
      reason: `low confidence (${below(confidence, rule.minConfidence)} < ${rule.minConfidence})`,
    };
  }
  return { digit: best, ...answer };
}

/**
 * `value` (< `limit`) with as many decimals as `limit` has (at least 2), cut rather than rounded,
 * so that the reason never reads "1.00 < 0.999999".
 */
function below(value: number, limit: number): string {
  const decimals = Math.max(2, Math.min(DECIMALS, (String(limit).split('.')[1] ?? '').length));
  const scale = 10 ** decimals;
  return (Math.floor(value * scale) / scale).toFixed(decimals);
}

/** The k most likely digits, most likely first. */
export function topK(probabilities: number[], k: number): { digit: number; probability: number }[] {
  return probabilities
    .map((probability, digit) => ({ digit, probability }))
    .sort((a, b) => b.probability - a.probability || a.digit - b.digit)
    .slice(0, Math.max(1, Math.min(k, probabilities.length)));
}

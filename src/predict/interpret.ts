/**
 * The rule that turns a model's ten probabilities into an answer: a digit, or `null` with the
 * reason. The one copy of it: Predictor (CLI, API, evaluation) and the page's in-browser mode
 * (bundled from this file) both call `interpretProbabilities`. Pure TypeScript with no imports,
 * so that the page bundle stays small.
 */

export interface Prediction {
  /** null when the input is not a digit, or the model is not sure enough. */
  digit: number | null;
  /** The highest probability. */
  confidence: number;
  /** All ten class probabilities. */
  probabilities: number[];
  /**
   * Why `digit` is null: preprocessing's verdict ('blank', 'no dominant stroke', 'too small'),
   * 'not a digit (confidence 0.31; stand-out 1.20 < 2.95)' (the run's fitted threshold, see
   * `standOut`), or 'low confidence (0.31 < 0.5)'.
   */
  reason?: string;
}

/** What decides between a digit and `null`; saved with the server's model info for the page. */
export interface AnswerRule {
  /** Below this confidence the answer is `digit: null` instead of a likely wrong digit. */
  minConfidence: number;
  /**
   * When the best digit's `standOut` is below this, the picture is taken for no digit at all: the
   * threshold a run trained with non-digits (outlier exposure) fitted on its validation digits, so
   * that about 0.3% of them fall below it (metadata.json `nonDigitRule`, predict/non-digit-rule.ts),
   * divided by the calibration temperature of the probabilities it is applied to. Such a model
   * spreads its probability evenly over the ten digits for anything that is none of them.
   */
  notADigitBelow?: number;
}

export const DEFAULT_MIN_CONFIDENCE = 0.5;

/** Probabilities are rounded to 6 decimals: more digits are noise, and they make answers long. */
const DECIMALS = 6;

export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let k = 1; k < values.length; k++) if (values[k] > values[best]) best = k;
  return best;
}

/** Probabilities this small are taken as this (float32 softmax outputs can underflow to 0). */
const SMALLEST_PROBABILITY = 1e-30;

/**
 * How far the most likely class stands out from the average class: log p_max − mean_k log p_k,
 * that is the top logit minus the mean logit, divided by the temperature the probabilities were
 * calibrated with. 0 for uniform probabilities (what outlier exposure teaches for non-digits).
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
 * One image's answer. `notADigit` is preprocessing's verdict ('blank', 'no dominant stroke',
 * 'too small'), which wins over any probability; then the run's not-a-digit threshold; then the
 * caller's minimum confidence.
 */
export function interpretProbabilities(row: ArrayLike<number>, rule: AnswerRule, notADigit?: string): Prediction {
  // (The stand-out is read before rounding: rounding turns small probabilities into 0.)
  const lead = rule.notADigitBelow === undefined || notADigit ? 0 : standOut(row);
  const probabilities = Array.from(row, (p) => Number(p.toFixed(DECIMALS)));
  const best = argmax(probabilities);
  const confidence = probabilities[best];
  if (notADigit) return { digit: null, confidence, probabilities, reason: notADigit };
  if (rule.notADigitBelow !== undefined && lead < rule.notADigitBelow) {
    return { digit: null, confidence, probabilities, reason: `not a digit (confidence ${confidence.toFixed(2)}; stand-out ${lead.toFixed(2)} < ${rule.notADigitBelow.toFixed(2)})` };
  }
  if (confidence < rule.minConfidence) {
    return { digit: null, confidence, probabilities, reason: `low confidence (${below(confidence, rule.minConfidence)} < ${rule.minConfidence})` };
  }
  return { digit: best, confidence, probabilities };
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

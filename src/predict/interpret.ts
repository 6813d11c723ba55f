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
  /** Why `digit` is null: 'blank', 'no dominant stroke', or 'low confidence (0.31 < 0.5)'. */
  reason?: string;
}

/** What decides between a digit and `null`; saved with the server's model info for the page. */
export interface AnswerRule {
  /** Below this confidence the answer is `digit: null` instead of a likely wrong digit. */
  minConfidence: number;
}

export const DEFAULT_MIN_CONFIDENCE = 0.5;

/** Probabilities are rounded to 6 decimals: more digits are noise, and they make answers long. */
const DECIMALS = 6;

export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let k = 1; k < values.length; k++) if (values[k] > values[best]) best = k;
  return best;
}

/**
 * One image's answer. `notADigit` is preprocessing's verdict ('blank', 'no dominant stroke'),
 * which wins over any probability.
 */
export function interpretProbabilities(row: ArrayLike<number>, rule: AnswerRule, notADigit?: string): Prediction {
  const probabilities = Array.from(row, (p) => Number(p.toFixed(DECIMALS)));
  const best = argmax(probabilities);
  const confidence = probabilities[best];
  if (notADigit) return { digit: null, confidence, probabilities, reason: notADigit };
  if (confidence < rule.minConfidence) {
    return { digit: null, confidence, probabilities, reason: `low confidence (${confidence.toFixed(2)} < ${rule.minConfidence})` };
  }
  return { digit: best, confidence, probabilities };
}

/** The k most likely digits, most likely first. */
export function topK(probabilities: number[], k: number): { digit: number; probability: number }[] {
  return probabilities
    .map((probability, digit) => ({ digit, probability }))
    .sort((a, b) => b.probability - a.probability || a.digit - b.digit)
    .slice(0, Math.max(1, Math.min(k, probabilities.length)));
}

/**
 * Risk-coverage: how often an answer is right against how many are given, as the minimum
 * confidence below which the answer is "not sure" (`--min-confidence`) rises. Each image has a
 * confidence (its top digit's probability), whether its top digit is right, and whether it can be
 * answered at all (an image refused as no digit never is, whatever the threshold). Pure functions
 * over arrays.
 */

/** One point of the curve: with `threshold` as the minimum confidence, `coverage` of the images are answered, `accuracy` of those right. */
export interface RiskCoveragePoint {
  threshold: number;
  coverage: number;
  accuracy: number;
}

export interface RiskCoverage {
  n: number;
  /** The most that can be answered: images not refused as no digit. */
  maxCoverage: number;
  /** Accuracy of the answers at threshold 0 (all that can be answered). */
  accuracyAll: number;
  /**
   * Area under the risk-coverage curve (risk = 1 − accuracy of the answered), from coverage 0 to
   * `maxCoverage`: the mean, over k = 1..answerable, of the error rate among the k most confident,
   * times answerable / n. Lower is better; 0 when the errors are the least confident of all.
   */
  aurc: number;
  /** The curve at about `CURVE_POINTS` coverages (every image's threshold would be thousands of points). */
  curve: RiskCoveragePoint[];
}

const CURVE_POINTS = 200;

/** Indices of the answerable images, most confident first (ties: index order, so the curve is repeatable). */
function ranked(confidence: ArrayLike<number>, answerable: (i: number) => boolean): number[] {
  const order: number[] = [];
  for (let i = 0; i < confidence.length; i++) if (answerable(i)) order.push(i);
  return order.sort((a, b) => confidence[b] - confidence[a] || a - b);
}

/** The risk-coverage curve and its area. */
export function riskCoverage(
  confidence: ArrayLike<number>,
  correct: ArrayLike<boolean>,
  answerable: (i: number) => boolean = () => true,
): RiskCoverage {
  const n = confidence.length;
  const order = ranked(confidence, answerable);
  const curve: RiskCoveragePoint[] = [];
  let right = 0;
  let riskSum = 0;
  const every = Math.max(1, Math.floor(order.length / CURVE_POINTS));
  order.forEach((i, k) => {
    if (correct[i]) right++;
    riskSum += 1 - right / (k + 1);
    // A point where the threshold can stop: after the last image of equal confidence.
    const last = k === order.length - 1;
    if (last || ((k + 1) % every === 0 && confidence[order[k + 1]] < confidence[i]))
      curve.push({ threshold: confidence[i], coverage: (k + 1) / n, accuracy: right / (k + 1) });
  });
  return {
    n,
    maxCoverage: order.length / n,
    accuracyAll: order.length ? right / order.length : 0,
    aurc: order.length ? (riskSum / order.length) * (order.length / n) : 0,
    curve,
  };
}

/** Coverage and accuracy of the answered at one threshold (answered: answerable and confidence >= threshold). */
export function atThreshold(
  confidence: ArrayLike<number>,
  correct: ArrayLike<boolean>,
  threshold: number,
  answerable: (i: number) => boolean = () => true,
): RiskCoveragePoint {
  let answered = 0;
  let right = 0;
  for (let i = 0; i < confidence.length; i++) {
    if (!answerable(i) || confidence[i] < threshold) continue;
    answered++;
    if (correct[i]) right++;
  }
  return {
    threshold,
    coverage: confidence.length ? answered / confidence.length : 0,
    accuracy: answered ? right / answered : 1,
  };
}

/**
 * The lowest threshold (the highest coverage) at which the answered are right at least `target`
 * of the time: the confidence of the least confident answer kept, or undefined when even the
 * single most confident answer falls short. Scans every cut, not only the curve's points.
 */
export function lowestThresholdFor(
  confidence: ArrayLike<number>,
  correct: ArrayLike<boolean>,
  target: number,
  answerable: (i: number) => boolean = () => true,
): RiskCoveragePoint | undefined {
  const order = ranked(confidence, answerable);
  let right = 0;
  let best: RiskCoveragePoint | undefined;
  order.forEach((i, k) => {
    if (correct[i]) right++;
    const cut = k === order.length - 1 || confidence[order[k + 1]] < confidence[i];
    if (cut && right / (k + 1) >= target)
      best = { threshold: confidence[i], coverage: (k + 1) / confidence.length, accuracy: right / (k + 1) };
  });
  return best;
}

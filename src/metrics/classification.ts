/**
 * Classification metrics over predicted probabilities, in place of scikit-learn. Pure functions
 * over plain arrays (no tf), so they are cheap to test against hand-checked tables.
 *
 * Conventions (the same as scikit-learn's where it has one):
 * - `probs` is row-major, `n * numClasses`; a row is one image's class probabilities.
 * - The predicted class is the first index of the row maximum (as tf.argMax), so ties go to the
 *   lower class.
 * - A 0/0 precision, recall or F1 is 0 (sklearn's `zero_division=0`): a class never predicted
 *   has precision 0, a class absent from the labels has recall 0.
 */
import { NUM_CLASSES } from '../data/types.js';

/** Probabilities are clipped to [EPS, 1 - EPS] before the log, as Keras and sklearn's log_loss do. */
const LOSS_EPSILON = 1e-7;
const CALIBRATION_BINS = 15;
/** Three rows of the gallery's eight columns. */
const WORST_ERRORS = 24;
const CONFUSED_PAIRS = 20;
const EXAMPLES_PER_PAIR = 8;

export interface ClassScores {
  digit: number;
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export interface AverageScores {
  precision: number;
  recall: number;
  f1: number;
}

export interface CalibrationBin {
  /** The bin holds confidences in (lo, hi]; the first bin also holds 0. */
  lo: number;
  hi: number;
  count: number;
  /** Mean confidence of the bin's images (0 when empty). */
  confidence: number;
  /** Share of the bin's images predicted right (0 when empty). */
  accuracy: number;
}

export interface ConfusedPair {
  true: number;
  predicted: number;
  count: number;
  /** The pair's most confident examples (for the gallery), when computed from probabilities. */
  examples?: { index: number; confidence: number }[];
}

export interface WorstError {
  /** Index of the image in the evaluated split. */
  index: number;
  true: number;
  predicted: number;
  /** Probability the model gave its (wrong) prediction. */
  confidence: number;
  /** Probability the model gave the true class. */
  trueProbability: number;
}

export interface ClassificationMetrics {
  n: number;
  accuracy: number;
  loss: number;
  errors: number;
  /** Rows are true classes, columns predicted classes. */
  confusionMatrix: number[][];
  perClass: ClassScores[];
  macro: AverageScores;
  weighted: AverageScores;
  topK: { top1: number; top2: number; top3: number };
  ece: number;
  calibration: CalibrationBin[];
  confusedPairs: ConfusedPair[];
  worstErrors: WorstError[];
  /** The predicted class of every image, one character per image ("7210414959..."), for `compare`. */
  predictions: string;
}

function checkShapes(probs: ArrayLike<number>, labels: ArrayLike<number>, numClasses: number): number {
  const n = labels.length;
  if (probs.length !== n * numClasses) {
    throw new RangeError(
      `probabilities hold ${probs.length} values, expected ${n} labels x ${numClasses} classes = ${n * numClasses}`,
    );
  }
  for (let i = 0; i < n; i++) {
    if (!Number.isInteger(labels[i]) || labels[i] < 0 || labels[i] >= numClasses) {
      throw new RangeError(`label ${labels[i]} at index ${i} is outside 0-${numClasses - 1}`);
    }
  }
  return n;
}

/** First index of each row's maximum. */
export function argmaxRows(probs: ArrayLike<number>, numClasses = NUM_CLASSES): Uint8Array {
  const n = probs.length / numClasses;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let k = 1; k < numClasses; k++) if (probs[i * numClasses + k] > probs[i * numClasses + best]) best = k;
    out[i] = best;
  }
  return out;
}

export function accuracy(labels: ArrayLike<number>, predicted: ArrayLike<number>): number {
  if (labels.length === 0) return 0;
  let right = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i] === predicted[i]) right++;
  return right / labels.length;
}

/** Mean of -log(p[true]), p clipped to [LOSS_EPSILON, 1 - LOSS_EPSILON]. */
export function meanCrossEntropy(
  probs: ArrayLike<number>,
  labels: ArrayLike<number>,
  numClasses = NUM_CLASSES,
): number {
  const n = checkShapes(probs, labels, numClasses);
  if (n === 0) return 0;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const p = Math.min(Math.max(probs[i * numClasses + labels[i]], LOSS_EPSILON), 1 - LOSS_EPSILON);
    sum -= Math.log(p);
  }
  return sum / n;
}

export function confusionMatrix(
  labels: ArrayLike<number>,
  predicted: ArrayLike<number>,
  numClasses = NUM_CLASSES,
): number[][] {
  const cm = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  for (let i = 0; i < labels.length; i++) cm[labels[i]][predicted[i]]++;
  return cm;
}

const safeDivide = (a: number, b: number): number => (b === 0 ? 0 : a / b);

/** Precision, recall, F1 and support of each class, from a confusion matrix (0/0 = 0). */
export function perClassScores(cm: number[][]): ClassScores[] {
  return cm.map((row, k) => {
    const truePositives = row[k];
    const support = row.reduce((a, b) => a + b, 0);
    const predictedCount = cm.reduce((sum, r) => sum + r[k], 0);
    const precision = safeDivide(truePositives, predictedCount);
    const recall = safeDivide(truePositives, support);
    const f1 = safeDivide(2 * precision * recall, precision + recall);
    return { digit: k, precision, recall, f1, support };
  });
}

/** Unweighted mean over classes (every class counts, even an empty one, as sklearn does). */
export function macroAverage(scores: ClassScores[]): AverageScores {
  const mean = (pick: (s: ClassScores) => number) =>
    safeDivide(
      scores.reduce((sum, s) => sum + pick(s), 0),
      scores.length,
    );
  return { precision: mean((s) => s.precision), recall: mean((s) => s.recall), f1: mean((s) => s.f1) };
}

/** Mean over classes weighted by support. */
export function weightedAverage(scores: ClassScores[]): AverageScores {
  const total = scores.reduce((sum, s) => sum + s.support, 0);
  const mean = (pick: (s: ClassScores) => number) =>
    safeDivide(
      scores.reduce((sum, s) => sum + pick(s) * s.support, 0),
      total,
    );
  return { precision: mean((s) => s.precision), recall: mean((s) => s.recall), f1: mean((s) => s.f1) };
}

/**
 * Share of images whose true class is among the k most probable. Ties rank as argmax breaks them
 * (the lower class first), so top-1 accuracy always equals accuracy.
 */
export function topKAccuracy(
  probs: ArrayLike<number>,
  labels: ArrayLike<number>,
  k: number,
  numClasses = NUM_CLASSES,
): number {
  const n = checkShapes(probs, labels, numClasses);
  if (n === 0) return 0;
  let hits = 0;
  for (let i = 0; i < n; i++) {
    const row = i * numClasses;
    const label = labels[i];
    const p = probs[row + label];
    let ahead = 0;
    for (let c = 0; c < numClasses; c++) {
      const q = probs[row + c];
      if (q > p || (q === p && c < label)) ahead++;
    }
    if (ahead < k) hits++;
  }
  return hits / n;
}

/** The bin of a confidence in `bins` equal bins (lo, hi] over [0, 1]. */
export function calibrationBinOf(confidence: number, bins = CALIBRATION_BINS): number {
  const b = Math.ceil(confidence * bins) - 1;
  return Math.min(Math.max(b, 0), bins - 1);
}

/**
 * Expected calibration error (Guo et al. 2017): images binned by confidence (the max
 * probability) into equal-width bins; ECE = sum over bins of (count / n) * |accuracy - confidence|.
 */
export function calibration(
  probs: ArrayLike<number>,
  labels: ArrayLike<number>,
  bins = CALIBRATION_BINS,
  numClasses = NUM_CLASSES,
): { ece: number; table: CalibrationBin[] } {
  const n = checkShapes(probs, labels, numClasses);
  const predicted = argmaxRows(probs, numClasses);
  const count = new Array<number>(bins).fill(0);
  const confidenceSum = new Array<number>(bins).fill(0);
  const rightSum = new Array<number>(bins).fill(0);
  for (let i = 0; i < n; i++) {
    const confidence = probs[i * numClasses + predicted[i]];
    const b = calibrationBinOf(confidence, bins);
    count[b]++;
    confidenceSum[b] += confidence;
    if (predicted[i] === labels[i]) rightSum[b]++;
  }
  const table = count.map((c, b) => ({
    lo: b / bins,
    hi: (b + 1) / bins,
    count: c,
    confidence: safeDivide(confidenceSum[b], c),
    accuracy: safeDivide(rightSum[b], c),
  }));
  const ece = table.reduce((sum, bin) => sum + safeDivide(bin.count, n) * Math.abs(bin.accuracy - bin.confidence), 0);
  return { ece, table };
}

/** Off-diagonal cells of the confusion matrix with a count, most frequent first (ties: by true, then predicted class). */
export function confusedPairs(cm: number[][], limit = CONFUSED_PAIRS): ConfusedPair[] {
  const pairs: ConfusedPair[] = [];
  cm.forEach((row, t) =>
    row.forEach((count, p) => {
      if (t !== p && count > 0) pairs.push({ true: t, predicted: p, count });
    }),
  );
  pairs.sort((a, b) => b.count - a.count || a.true - b.true || a.predicted - b.predicted);
  return pairs.slice(0, limit);
}

/** Each pair with its `perPair` most confident examples (ties: the lower index first). */
export function withExamples(
  pairs: ConfusedPair[],
  probs: ArrayLike<number>,
  labels: ArrayLike<number>,
  perPair = EXAMPLES_PER_PAIR,
  numClasses = NUM_CLASSES,
): ConfusedPair[] {
  const predicted = argmaxRows(probs, numClasses);
  return pairs.map((pair) => {
    const examples: { index: number; confidence: number }[] = [];
    for (let i = 0; i < labels.length; i++) {
      if (labels[i] === pair.true && predicted[i] === pair.predicted)
        examples.push({ index: i, confidence: probs[i * numClasses + pair.predicted] });
    }
    examples.sort((a, b) => b.confidence - a.confidence || a.index - b.index);
    return { ...pair, examples: examples.slice(0, perPair) };
  });
}

/** The wrong answers given with the highest confidence (ties: the lower index first). */
export function worstErrors(
  probs: ArrayLike<number>,
  labels: ArrayLike<number>,
  limit = WORST_ERRORS,
  numClasses = NUM_CLASSES,
): WorstError[] {
  const n = checkShapes(probs, labels, numClasses);
  const predicted = argmaxRows(probs, numClasses);
  const errors: WorstError[] = [];
  for (let i = 0; i < n; i++) {
    if (predicted[i] === labels[i]) continue;
    errors.push({
      index: i,
      true: labels[i],
      predicted: predicted[i],
      confidence: probs[i * numClasses + predicted[i]],
      trueProbability: probs[i * numClasses + labels[i]],
    });
  }
  errors.sort((a, b) => b.confidence - a.confidence || a.index - b.index);
  return errors.slice(0, limit);
}

/** Every metric of the evaluate stage, from the labels and the model's probabilities. */
export function computeMetrics(
  probs: ArrayLike<number>,
  labels: ArrayLike<number>,
  numClasses = NUM_CLASSES,
): ClassificationMetrics {
  const n = checkShapes(probs, labels, numClasses);
  const predicted = argmaxRows(probs, numClasses);
  const cm = confusionMatrix(labels, predicted, numClasses);
  const perClass = perClassScores(cm);
  const acc = accuracy(labels, predicted);
  const { ece, table } = calibration(probs, labels, CALIBRATION_BINS, numClasses);
  return {
    n,
    accuracy: acc,
    loss: meanCrossEntropy(probs, labels, numClasses),
    errors: n - cm.reduce((sum, row, k) => sum + row[k], 0),
    confusionMatrix: cm,
    perClass,
    macro: macroAverage(perClass),
    weighted: weightedAverage(perClass),
    topK: {
      top1: acc,
      top2: topKAccuracy(probs, labels, 2, numClasses),
      top3: topKAccuracy(probs, labels, 3, numClasses),
    },
    ece,
    calibration: table,
    confusedPairs: withExamples(confusedPairs(cm), probs, labels, EXAMPLES_PER_PAIR, numClasses),
    worstErrors: worstErrors(probs, labels, WORST_ERRORS, numClasses),
    predictions: Array.from(predicted, (p) => p.toString(36)).join(''),
  };
}

/**
 * Accuracy and mean cross-entropy of probabilities (rows of `outputs`: 10, or 11 with the
 * not-a-digit output) against digit labels: what validation and the benchmarks report. The
 * accuracy is the argmax over the ten digits.
 */
export function accuracyAndLoss(
  probs: Float32Array,
  labels: Uint8Array,
  outputs = NUM_CLASSES,
): { accuracy: number; loss: number } {
  const digits = digitColumns(probs, outputs);
  return { accuracy: accuracy(labels, argmaxRows(digits)), loss: meanCrossEntropy(digits, labels) };
}

/**
 * The ten digits' probabilities of rows of `outputs` (n x 10; the same array when `outputs` is
 * 10). With the 11th "not a digit" output they are not renormalised: they are what an answer shows
 * (predict/interpret.ts), so scores computed on them (accuracy over the ten, the likelihood of the
 * true digit, the calibration of the top one) are the scores of the answers.
 */
export function digitColumns(probs: Float32Array, outputs: number): Float32Array {
  if (outputs === NUM_CLASSES) return probs;
  if (outputs < NUM_CLASSES || probs.length % outputs !== 0)
    throw new RangeError(`${probs.length} probabilities are not rows of ${outputs} outputs`);
  const n = probs.length / outputs;
  const out = new Float32Array(n * NUM_CLASSES);
  for (let i = 0; i < n; i++) out.set(probs.subarray(i * outputs, i * outputs + NUM_CLASSES), i * NUM_CLASSES);
  return out;
}

import { UserError } from '../util/errors.js';
import { createRng, deriveSeed, type Rng } from '../util/rng.js';
import { NUM_CLASSES, PIXELS, type ImageSet } from './types.js';

/**
 * How many of `total` items to take from each class so that every class is represented in
 * proportion to its share of `labels` (largest-remainder rounding, so the counts add up exactly).
 */
export function stratifiedQuota(labels: Uint8Array, total: number, numClasses = NUM_CLASSES): number[] {
  const counts = new Array<number>(numClasses).fill(0);
  for (const label of labels) counts[label]++;
  const n = labels.length;
  if (total > n) throw new RangeError(`cannot take ${total} of ${n} items`);
  const exact = counts.map((c) => (n === 0 ? 0 : (c * total) / n));
  const quota = exact.map(Math.floor);
  let missing = total - quota.reduce((a, b) => a + b, 0);
  const byRemainder = exact.map((e, k) => ({ k, r: e - Math.floor(e) })).sort((a, b) => b.r - a.r || a.k - b.k);
  for (const { k } of byRemainder) {
    if (missing === 0) break;
    if (quota[k] < counts[k]) {
      quota[k]++;
      missing--;
    }
  }
  return quota;
}

/** Indices of a stratified random sample of `size` items, and of the rest; both sorted. */
export function stratifiedIndices(
  labels: Uint8Array,
  size: number,
  rng: Rng,
): { picked: Uint32Array; rest: Uint32Array } {
  const quota = stratifiedQuota(labels, size);
  const byClass: number[][] = Array.from({ length: quota.length }, () => []);
  labels.forEach((label, i) => byClass[label].push(i));
  const picked: number[] = [];
  const rest: number[] = [];
  byClass.forEach((indices, k) => {
    rng.shuffle(indices);
    picked.push(...indices.slice(0, quota[k]));
    rest.push(...indices.slice(quota[k]));
  });
  const sorted = (xs: number[]) => Uint32Array.from(xs).sort();
  return { picked: sorted(picked), rest: sorted(rest) };
}

/** A new ImageSet holding the given items, in the given order. */
export function takeIndices(set: ImageSet, indices: ArrayLike<number>): ImageSet {
  const images = new Uint8Array(indices.length * PIXELS);
  const labels = new Uint8Array(indices.length);
  for (let j = 0; j < indices.length; j++) {
    const i = indices[j];
    images.set(set.images.subarray(i * PIXELS, (i + 1) * PIXELS), j * PIXELS);
    labels[j] = set.labels[i];
  }
  return { images, labels, count: indices.length };
}

/** Seeded stratified train/validation split (default in training: 5,000 of 60,000 held out). */
export function trainValSplit(set: ImageSet, valCount: number, rng: Rng): { train: ImageSet; val: ImageSet } {
  const { picked, rest } = stratifiedIndices(set.labels, valCount, rng);
  return { train: takeIndices(set, rest), val: takeIndices(set, picked) };
}

/** Seeded stratified subset of `limit` items, for quick runs (`--limit N`). */
export function stratifiedSubset(set: ImageSet, limit: number, rng: Rng): ImageSet {
  if (limit >= set.count) return set;
  return takeIndices(set, stratifiedIndices(set.labels, limit, rng).picked);
}

export function classCounts(labels: Uint8Array, numClasses = NUM_CLASSES): number[] {
  const counts = new Array<number>(numClasses).fill(0);
  for (const label of labels) counts[label]++;
  return counts;
}

/** How a run picks its images from the training file: the same rule for `train` and `data`. */
export interface SplitPlan {
  seed: number;
  /** Seed of the split when it is not `seed` (config `splitSeed`): members of an ensemble share one. */
  splitSeed?: number | null;
  /** Stratified subset of the training file to use (0: all of it). */
  limit: number;
  /** Images of that subset held out for validation (stratified); null: one in twelve (5,000 of 60,000). */
  valCount: number | null;
}

/** The validation hold-out for a training subset of n images. */
function resolveValCount(plan: Pick<SplitPlan, 'valCount'>, n: number): number {
  return plan.valCount ?? Math.round(n / 12);
}

/**
 * Streams of randomness the split draws from. The trainer uses this very function, so `mnist-cnn data`
 * shows the very split `mnist-cnn train` with the same seed, limit and val-count trains on.
 */
const SPLIT_STREAMS = { limit: 1, split: 2 } as const;

/**
 * Indices into the training file: an optional stratified subset (`limit`), then a stratified
 * validation hold-out of `valCount` from it. Both results sorted; together they are the subset.
 */
export function seededSplitIndices(labels: Uint8Array, plan: SplitPlan): { train: Uint32Array; val: Uint32Array } {
  const seed = plan.splitSeed ?? plan.seed;
  let base: Uint32Array = Uint32Array.from({ length: labels.length }, (_, i) => i);
  if (plan.limit > 0 && plan.limit < labels.length) {
    base = stratifiedIndices(labels, plan.limit, createRng(deriveSeed(seed, SPLIT_STREAMS.limit))).picked;
  }
  const valCount = resolveValCount(plan, base.length);
  if (valCount >= base.length) {
    throw new UserError(`val-count ${valCount} leaves no training images out of ${base.length}`);
  }
  const baseLabels = Uint8Array.from(base, (i) => labels[i]);
  const { picked, rest } = stratifiedIndices(baseLabels, valCount, createRng(deriveSeed(seed, SPLIT_STREAMS.split)));
  return { train: Uint32Array.from(rest, (j) => base[j]), val: Uint32Array.from(picked, (j) => base[j]) };
}

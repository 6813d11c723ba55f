import type { Rng } from '../util/rng.js';
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
export function stratifiedIndices(labels: Uint8Array, size: number, rng: Rng): { picked: Uint32Array; rest: Uint32Array } {
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

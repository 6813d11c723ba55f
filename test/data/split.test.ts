import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  loadMnist,
  classCounts,
  seededSplitIndices,
  stratifiedSubset,
  stratifiedQuota,
  trainValSplit,
  pixelStats,
  type Dataset,
} from '../../src/data/index.js';
import { createRng } from '../../src/util/rng.js';

let data: Dataset;
before(async () => {
  data = await loadMnist();
});

/** Every class's count is within ±1 of its exact share of `size`. */
function assertStratified(picked: number[], population: number[], size: number): void {
  const total = population.reduce((a, b) => a + b, 0);
  population.forEach((count, k) => {
    const share = (count * size) / total;
    assert.ok(Math.abs(picked[k] - share) <= 1, `class ${k}: ${picked[k]} picked, share ${share.toFixed(2)}`);
  });
}

function assertPartition(parts: Uint32Array[], all: number): void {
  const seen = new Uint8Array(all);
  for (const part of parts) for (const i of part) seen[i]++;
  assert.ok(
    seen.every((n) => n === 1),
    'every index is in exactly one part',
  );
}

test('the default split holds out 5000 stratified images; train and val partition the training file', () => {
  const { train, val } = seededSplitIndices(data.train.labels, { seed: 1, limit: 0, valCount: 5000 });
  assert.equal(val.length, 5000);
  assert.equal(train.length, 55000);
  assertPartition([train, val], 60000);
  const population = classCounts(data.train.labels);
  assertStratified(classCounts(Uint8Array.from(val, (i) => data.train.labels[i])), population, 5000);
  assertStratified(classCounts(Uint8Array.from(train, (i) => data.train.labels[i])), population, 55000);
});

test('the same seed gives the same split; another seed a different one', () => {
  const plan = { limit: 0, valCount: 5000 };
  const a = seededSplitIndices(data.train.labels, { ...plan, seed: 1 });
  const b = seededSplitIndices(data.train.labels, { ...plan, seed: 1 });
  const c = seededSplitIndices(data.train.labels, { ...plan, seed: 2 });
  assert.deepEqual(a.val, b.val);
  assert.notDeepEqual(a.val, c.val);
  assert.deepEqual(
    classCounts(Uint8Array.from(a.val, (i) => data.train.labels[i])),
    classCounts(Uint8Array.from(c.val, (i) => data.train.labels[i])),
    'different images, same class counts',
  );
});

test('a split seed overrides the seed: runs of other seeds with one split seed hold out the same images', () => {
  const plan = { limit: 0, valCount: 5000 };
  const seed1 = seededSplitIndices(data.train.labels, { ...plan, seed: 1 });
  const seed2split1 = seededSplitIndices(data.train.labels, { ...plan, seed: 2, splitSeed: 1 });
  const seed1split2 = seededSplitIndices(data.train.labels, { ...plan, seed: 1, splitSeed: 2 });
  assert.deepEqual(seed2split1.val, seed1.val);
  assert.deepEqual(seed1split2.val, seededSplitIndices(data.train.labels, { ...plan, seed: 2 }).val);
  assert.deepEqual(
    seededSplitIndices(data.train.labels, { ...plan, seed: 1, splitSeed: null }).val,
    seed1.val,
    'null: the seed',
  );
});

test('--limit takes a stratified subset first, then the validation hold-out from it', () => {
  const { train, val } = seededSplitIndices(data.train.labels, { seed: 3, limit: 2000, valCount: 500 });
  assert.equal(train.length + val.length, 2000);
  const population = classCounts(data.train.labels);
  const subset = Uint8Array.from([...train, ...val], (i) => data.train.labels[i]);
  assertStratified(classCounts(subset), population, 2000);
  assertStratified(classCounts(Uint8Array.from(val, (i) => data.train.labels[i])), population, 500);
  assert.equal(new Set([...train, ...val]).size, 2000, 'no overlap');
});

test('a val-count that leaves nothing to train on is refused', () => {
  assert.throws(
    () => seededSplitIndices(data.train.labels, { seed: 1, limit: 100, valCount: 100 }),
    /val-count 100 leaves no training images out of 100/,
  );
});

test('property: stratified subsets of any labels are within ±1 per class, exact in size, deterministic', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 1, maxLength: 400, max: 9 }),
      fc.nat(),
      fc.integer({ min: 0, max: 1 << 30 }),
      (labels, sizeSeed, seed) => {
        const size = sizeSeed % (labels.length + 1);
        const quota = stratifiedQuota(labels, size);
        assert.equal(
          quota.reduce((a, b) => a + b, 0),
          size,
        );
        assertStratified(quota, classCounts(labels), size);
        const set = { images: new Uint8Array(labels.length * 784), labels, count: labels.length };
        const first = trainValSplit(set, size, createRng(seed));
        const again = trainValSplit(set, size, createRng(seed));
        assert.deepEqual(first.val.labels, again.val.labels);
        assert.equal(first.train.count + first.val.count, labels.length);
        assert.deepEqual(classCounts(first.val.labels), quota);
      },
    ),
    { numRuns: 150 },
  );
});

test('stratifiedSubset keeps the whole set when the limit is not smaller', () => {
  assert.equal(stratifiedSubset(data.test, 10000, createRng(1)), data.test);
  assert.equal(stratifiedSubset(data.test, 100, createRng(1)).count, 100);
});

test('pixel statistics of the MNIST training file are the well-known 0.1307 / 0.3081', () => {
  const stats = pixelStats(data.train.images);
  assert.equal(stats.mean.toFixed(4), '0.1307');
  assert.equal(stats.std.toFixed(4), '0.3081');
  assert.deepEqual(pixelStats(Uint8Array.from([0, 255])), { mean: 0.5, std: 0.5 });
});

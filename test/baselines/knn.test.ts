import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseK, knnVote, nearestNeighbours, type Neighbours } from '../../src/baselines/knn.js';
import { PIXELS } from '../../src/data/types.js';
import { startBackend } from '../helpers/run-fixtures.js';
import { CHANCE_ERROR, errorOf, smallMnist } from '../helpers/small-mnist.js';

/** The k nearest by a plain loop over every pair, in float64: what the matrix form must equal. */
function naiveNeighbours(
  reference: Float32Array,
  queries: Float32Array,
  k: number,
): { indices: number[][]; distances: number[][] } {
  const rows = reference.length / PIXELS;
  const indices: number[][] = [];
  const distances: number[][] = [];
  for (let q = 0; q < queries.length / PIXELS; q++) {
    const all: { i: number; d: number }[] = [];
    for (let r = 0; r < rows; r++) {
      let d = 0;
      for (let j = 0; j < PIXELS; j++) d += (queries[q * PIXELS + j] - reference[r * PIXELS + j]) ** 2;
      all.push({ i: r, d });
    }
    all.sort((a, b) => a.d - b.d || a.i - b.i);
    indices.push(all.slice(0, k).map((e) => e.i));
    distances.push(all.slice(0, k).map((e) => e.d));
  }
  return { indices, distances };
}

test('k-NN as matrix products, on ONNX Runtime and on TensorFlow.js, finds the neighbours a naive loop finds (300 test images against 1,800 training images)', async () => {
  await startBackend();
  const sets = await smallMnist(2000, 300);
  const k = 5;
  const slow = naiveNeighbours(sets.x.train, sets.x.test, k);
  const slowVotes: Neighbours = {
    k,
    indices: Int32Array.from(slow.indices.flat()),
    distances: Float32Array.from(slow.distances.flat()),
  };
  for (const runtime of ['onnx', 'tfjs'] as const) {
    const fast = await nearestNeighbours(sets.x.train, sets.x.test, PIXELS, k, { runtime, block: 128 });
    let sameNeighbours = 0;
    for (let q = 0; q < sets.test.count; q++) {
      for (let j = 0; j < k; j++) {
        const d = slow.distances[q][j];
        assert.ok(
          Math.abs(fast.distances[q * k + j] - d) <= 1e-3 * Math.max(1, d),
          `${runtime}, query ${q}, neighbour ${j}: ${fast.distances[q * k + j]} against ${d}`,
        );
      }
      // The same neighbours in the same order, unless two lie a hair apart (float32 against float64 rounding).
      if (Array.from(fast.indices.subarray(q * k, (q + 1) * k)).every((i, j) => i === slow.indices[q][j]))
        sameNeighbours++;
    }
    assert.ok(
      sameNeighbours >= sets.test.count - 3,
      `${runtime}: ${sameNeighbours} of ${sets.test.count} queries have exactly the naive loop's neighbours`,
    );
    assert.deepEqual(knnVote(fast, sets.train.labels, 3), knnVote(slowVotes, sets.train.labels, 3), runtime);
  }
});

test('a vote tie goes to the tied class whose member is nearest', () => {
  const labels = [7, 1, 1, 7, 2];
  const neighbours: Neighbours = {
    k: 5,
    indices: Int32Array.from([4, 1, 0, 3, 2]),
    distances: Float32Array.from([1, 2, 3, 4, 5]),
  };
  // k = 5: labels 2, 1, 7, 7, 1: 1 and 7 have two votes each; the nearest of them is the 1.
  assert.deepEqual(Array.from(knnVote(neighbours, labels, 5)), [1]);
  assert.deepEqual(Array.from(knnVote(neighbours, labels, 1)), [2]);
});

test('k-NN on 1,800 training images, k chosen on validation, errs on under 15% of the test images (chance: 90%)', async () => {
  const sets = await smallMnist(2000, 1000);
  const valNeighbours = await nearestNeighbours(sets.x.train, sets.x.val, PIXELS, 10);
  const { k, errors } = chooseK(valNeighbours, sets.train.labels, sets.val.labels);
  assert.equal(errors.length, 10);
  assert.equal(errors[k - 1], Math.min(...errors));
  const testNeighbours = await nearestNeighbours(sets.x.train, sets.x.test, PIXELS, k);
  const error = errorOf(knnVote(testNeighbours, sets.train.labels, k), sets.test.labels);
  assert.ok(error < 0.15 && error < CHANCE_ERROR, `test error ${error}`);
});

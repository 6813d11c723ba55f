import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dilate, fitQuadraticSurface, quantileInPlace } from '../../src/image/pixel-ops.js';
import { createRng } from '../../src/util/rng.js';

/** The quantile as it was computed before selection: a sorted copy. */
function sortedQuantile(values: Float64Array, q: number): number {
  if (values.length === 0) return 0;
  const sorted = Float64Array.from(values).sort();
  const pos = Math.min(sorted.length - 1, Math.max(0, q * (sorted.length - 1)));
  const lo = Math.floor(pos);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

test("quantileInPlace gives the sorted copy's answer bit for bit, keeps the same values, and copes with runs of equal values and NaN", () => {
  const rng = createRng(3);
  for (let trial = 0; trial < 2000; trial++) {
    const n = 1 + rng.int(trial < 1000 ? 12 : 700);
    const kind = trial % 4;
    // Continuous values, few distinct levels (black paper), sorted, reversed.
    const values = Float64Array.from({ length: n }, (_, i) =>
      kind === 0 ? rng.normal() * 50 : kind === 1 ? rng.int(3) : kind === 2 ? i : n - i,
    );
    for (const q of [0, 0.1, 0.5, 0.9, 1, rng.next()]) {
      const copy = values.slice();
      const expected = sortedQuantile(values, q);
      assert.ok(
        Object.is(quantileInPlace(copy, q), expected),
        `n ${n}, kind ${kind}, q ${q}: ${quantileInPlace(values.slice(), q)} vs ${expected}`,
      );
      assert.deepEqual(copy.slice().sort(), values.slice().sort(), 'the same values stay in the array');
    }
  }
  assert.equal(quantileInPlace(new Float64Array(0), 0.5), 0);
  const withNaN = Float64Array.of(3, NaN, 1, 2);
  assert.ok(Object.is(quantileInPlace(withNaN.slice(), 0.5), sortedQuantile(withNaN, 0.5)));
});

test('dilate: the square neighbourhood of every set pixel, the same into a reused array as into a new one', () => {
  const rng = createRng(5);
  const reused = new Uint8Array(40 * 40);
  for (let trial = 0; trial < 300; trial++) {
    const width = 1 + rng.int(40);
    const height = 1 + rng.int(40);
    const r = rng.int(5);
    const mask = Uint8Array.from({ length: width * height }, () => (rng.next() < 0.05 ? 1 : 0));
    const expected = new Uint8Array(width * height);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        if (!mask[y * width + x]) continue;
        for (let yy = Math.max(0, y - r); yy <= Math.min(height - 1, y + r); yy++)
          for (let xx = Math.max(0, x - r); xx <= Math.min(width - 1, x + r); xx++) expected[yy * width + xx] = 1;
      }
    }
    assert.deepEqual(dilate(mask, width, height, r), expected, `${width}x${height}, r ${r}`);
    assert.deepEqual(
      dilate(mask, width, height, r, reused.subarray(0, width * height).fill(7)),
      expected,
      `${width}x${height}, r ${r}, reused`,
    );
  }
});

test('fitQuadraticSurface recovers a quadratic lighting surface from the pixels away from the ink, into a reused array too', () => {
  const [width, height] = [60, 40];
  const surface = (x: number, y: number) => {
    const [u, v] = [(2 * x) / (width - 1) - 1, (2 * y) / (height - 1) - 1];
    return 120 + 30 * u - 20 * v + 15 * u * u + 10 * u * v - 5 * v * v;
  };
  const data = new Float32Array(width * height);
  const ink = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const stroke = Math.abs(x - y - 10) < 3;
      data[y * width + x] = stroke ? 255 : surface(x, y);
      ink[y * width + x] = stroke ? 1 : 0;
    }
  }
  const reused = new Float32Array(width * height).fill(-1);
  for (const fitted of [
    fitQuadraticSurface({ data, width, height }, ink),
    fitQuadraticSurface({ data, width, height }, ink, reused),
  ]) {
    let worst = 0;
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++) worst = Math.max(worst, Math.abs(fitted[y * width + x] - surface(x, y)));
    assert.ok(worst < 1e-3, `worst error ${worst}`);
  }
  // Ink everywhere: too few background samples, no correction (a reused array is cleared).
  assert.ok(
    fitQuadraticSurface({ data, width, height }, new Uint8Array(width * height).fill(1), reused).every((v) => v === 0),
  );
});

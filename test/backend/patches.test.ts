import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  fillPatchesByPosition,
  fillTapsShifted,
  tapsAreShifts,
  type PatchGeometry,
} from '../../src/backend/patches.js';
import { createRng } from '../../src/util/rng.js';
import { randomValues } from '../helpers/backend-compare.js';

/** Stride-1 'same' geometry as tfjs computes it: the extra padding of an even filter goes after. */
function sameGeometry(
  batch: number,
  inHeight: number,
  inWidth: number,
  filterHeight: number,
  filterWidth: number,
): PatchGeometry {
  return {
    batch,
    inHeight,
    inWidth,
    outHeight: inHeight,
    outWidth: inWidth,
    filterHeight,
    filterWidth,
    strideHeight: 1,
    strideWidth: 1,
    padTop: Math.floor((filterHeight - 1) / 2),
    padLeft: Math.floor((filterWidth - 1) / 2),
  };
}

/** [n, h, w, c] → [c, n, h, w], the layout fillTapsShifted reads. */
function channelsFirst(x: Float32Array, g: PatchGeometry, channels: number): Float32Array {
  const pixels = g.batch * g.inHeight * g.inWidth;
  const out = new Float32Array(x.length);
  for (let p = 0; p < pixels; p++) for (let c = 0; c < channels; c++) out[c * pixels + p] = x[p * channels + c];
  return out;
}

test('taps by shifted copies are the transpose of patches by position, for every chunk of images (non-square images, even and odd filters)', () => {
  const rng = createRng(61);
  const cases: Array<[number, number, number, number, number, number]> = [
    // batch, height, width, filter height, filter width, channels
    [3, 5, 7, 3, 3, 2],
    [2, 4, 6, 5, 5, 1],
    [4, 6, 3, 2, 4, 3],
    [1, 3, 3, 1, 1, 4],
    [2, 2, 3, 5, 3, 2],
    [5, 4, 4, 3, 3, 1],
  ];
  for (const [batch, h, w, fh, fw, channels] of cases) {
    const g = sameGeometry(batch, h, w, fh, fw);
    assert.ok(tapsAreShifts(g));
    const x = randomValues(rng, batch * h * w * channels);
    const columns = fh * fw * channels;
    const pixels = h * w;
    const byPosition = new Float32Array(batch * pixels * columns);
    fillPatchesByPosition(x, g, channels, byPosition);
    const xT = channelsFirst(x, g, channels);
    for (const chunk of [1, 2, batch]) {
      for (let first = 0; first < batch; first += chunk) {
        const count = Math.min(chunk, batch - first);
        const byTap = new Float32Array(columns * count * pixels).fill(NaN);
        fillTapsShifted(xT, g, channels, first, count, byTap);
        for (let col = 0; col < columns; col++) {
          for (let p = 0; p < count * pixels; p++) {
            const expected = byPosition[(first * pixels + p) * columns + col];
            assert.equal(
              byTap[col * count * pixels + p],
              expected,
              `case ${[batch, h, w, fh, fw, channels]} chunk ${chunk} from ${first}: column ${col}, position ${p}`,
            );
          }
        }
      }
    }
  }
});

test('taps by shifted copies refuse geometry that is not a shift, and images outside the batch', () => {
  const g = sameGeometry(2, 4, 4, 3, 3);
  const out = new Float32Array(9 * 2 * 16);
  const strided = { ...g, strideHeight: 2, strideWidth: 2, outHeight: 2, outWidth: 2 };
  assert.equal(tapsAreShifts(strided), false);
  assert.equal(tapsAreShifts({ ...g, outHeight: 2, outWidth: 2 }), false); // 'valid'
  assert.throws(() => fillTapsShifted(new Float32Array(32), strided, 1, 0, 2, out), /stride 1/);
  assert.throws(() => fillTapsShifted(new Float32Array(32), g, 1, 1, 2, out), /outside the batch of 2/);
  assert.throws(
    () => fillTapsShifted(new Float32Array(32), g, 1, 0, 2, new Float32Array(10)),
    /smaller than the patches/,
  );
});

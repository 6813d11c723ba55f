import { test } from 'node:test';
import assert from 'node:assert/strict';
import { augmentImage } from '../../src/data/augment.js';
import { createRng } from '../../src/util/rng.js';

/** augmentImage written the plain way: every output pixel mapped back and sampled on its own. */
function referenceAugment(
  src: Uint8Array,
  out: Float32Array,
  rng: ReturnType<typeof createRng>,
  b: { maxShift: number; maxRotation: number; maxScale: number },
): void {
  const angle = ((rng.next() * 2 - 1) * b.maxRotation * Math.PI) / 180;
  const scale = 1 + (rng.next() * 2 - 1) * b.maxScale;
  const dx = (rng.next() * 2 - 1) * b.maxShift;
  const dy = (rng.next() * 2 - 1) * b.maxShift;
  const at = (x: number, y: number) => (x < 0 || y < 0 || x > 27 || y > 27 ? 0 : src[y * 28 + x]);
  for (let y = 0; y < 28; y++) {
    for (let x = 0; x < 28; x++) {
      const ox = x - 13.5 - dx;
      const oy = y - 13.5 - dy;
      const sx = (Math.cos(angle) * ox + Math.sin(angle) * oy) / scale + 13.5;
      const sy = (-Math.sin(angle) * ox + Math.cos(angle) * oy) / scale + 13.5;
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const fx = sx - x0;
      const fy = sy - y0;
      const top = at(x0, y0) * (1 - fx) + at(x0 + 1, y0) * fx;
      const bottom = at(x0, y0 + 1) * (1 - fx) + at(x0 + 1, y0 + 1) * fx;
      out[y * 28 + x] = top * (1 - fy) + bottom * fy;
    }
  }
}

test('augmentation matches a plain per-pixel affine warp with bilinear sampling, edges included', () => {
  const image = new Uint8Array(784).map((_, i) => (i * 37) % 256); // ink up to the borders
  const fast = new Float32Array(784);
  const plain = new Float32Array(784);
  const bounds = { maxShift: 3, maxRotation: 30, maxScale: 0.25 };
  for (let seed = 1; seed <= 50; seed++) {
    augmentImage(image, 0, fast, createRng(seed), bounds);
    referenceAugment(image, plain, createRng(seed), bounds);
    fast.forEach((v, i) => assert.ok(Math.abs(v - plain[i]) < 1e-3, `seed ${seed}, pixel ${i}: ${v} vs ${plain[i]}`));
  }
});

test('augmentation with zero bounds is the identity; a pure shift moves the ink by that many pixels', () => {
  const image = new Uint8Array(784);
  image[10 * 28 + 12] = 200;
  const out = new Float32Array(784);
  augmentImage(image, 0, out, createRng(1), { maxShift: 0, maxRotation: 0, maxScale: 0 });
  assert.deepEqual(Array.from(out), Array.from(image));
  // maxShift 2 draws a shift in [-2, 2]; the ink's centre moves by exactly the drawn amount, and stays whole.
  augmentImage(image, 0, out, createRng(3), { maxShift: 2, maxRotation: 0, maxScale: 0 });
  const total = out.reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(total - 200) < 1e-3, `ink preserved: ${total}`);
  let cx = 0;
  let cy = 0;
  out.forEach((v, i) => ((cx += (i % 28) * v), (cy += Math.floor(i / 28) * v)));
  assert.ok(Math.abs(cx / total - 12) <= 2 && Math.abs(cy / total - 10) <= 2);
});

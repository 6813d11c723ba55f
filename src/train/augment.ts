import { IMAGE_SIZE, PIXELS } from '../data/types.js';
import type { Rng } from '../util/rng.js';

export interface AugmentBounds {
  maxShift: number;
  maxRotation: number;
  maxScale: number;
}

/**
 * A random small affine distortion of one 28x28 image (rotation, scale, shift), sampled
 * bilinearly, written into `out` as 0..255 values. Applied to training images only.
 */
export function augmentImage(src: Uint8Array, srcOffset: number, out: Float32Array, rng: Rng, bounds: AugmentBounds): void {
  const angle = ((rng.next() * 2 - 1) * bounds.maxRotation * Math.PI) / 180;
  const scale = 1 + (rng.next() * 2 - 1) * bounds.maxScale;
  const dx = (rng.next() * 2 - 1) * bounds.maxShift;
  const dy = (rng.next() * 2 - 1) * bounds.maxShift;
  // Inverse map: for each output pixel, where it comes from in the source.
  const cos = Math.cos(angle) / scale;
  const sin = Math.sin(angle) / scale;
  const c = (IMAGE_SIZE - 1) / 2;
  for (let y = 0; y < IMAGE_SIZE; y++) {
    for (let x = 0; x < IMAGE_SIZE; x++) {
      const ox = x - c - dx;
      const oy = y - c - dy;
      const sx = cos * ox + sin * oy + c;
      const sy = -sin * ox + cos * oy + c;
      out[y * IMAGE_SIZE + x] = bilinear(src, srcOffset, sx, sy);
    }
  }
}

function bilinear(src: Uint8Array, offset: number, x: number, y: number): number {
  const x0 = Math.floor(x);
  const y0 = Math.floor(y);
  const fx = x - x0;
  const fy = y - y0;
  const at = (xx: number, yy: number): number =>
    xx < 0 || yy < 0 || xx >= IMAGE_SIZE || yy >= IMAGE_SIZE ? 0 : src[offset + yy * IMAGE_SIZE + xx];
  const top = at(x0, y0) * (1 - fx) + at(x0 + 1, y0) * fx;
  const bottom = at(x0, y0 + 1) * (1 - fx) + at(x0 + 1, y0 + 1) * fx;
  return top * (1 - fy) + bottom * fy;
}

export const AUGMENT_SCRATCH_SIZE = PIXELS;

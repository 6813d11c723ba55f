import { IMAGE_SIZE } from './types.js';
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
export function augmentImage(
  src: Uint8Array,
  srcOffset: number,
  out: Float32Array,
  rng: Rng,
  bounds: AugmentBounds,
): void {
  const angle = ((rng.next() * 2 - 1) * bounds.maxRotation * Math.PI) / 180;
  const scale = 1 + (rng.next() * 2 - 1) * bounds.maxScale;
  const dx = (rng.next() * 2 - 1) * bounds.maxShift;
  const dy = (rng.next() * 2 - 1) * bounds.maxShift;
  // Inverse map: for each output pixel, where it comes from in the source.
  const cos = Math.cos(angle) / scale;
  const sin = Math.sin(angle) / scale;
  const c = (IMAGE_SIZE - 1) / 2;
  for (let y = 0; y < IMAGE_SIZE; y++) {
    const oy = y - c - dy;
    // The source position moves by (cos, -sin) per output pixel along a row.
    let sx = cos * (-c - dx) + sin * oy + c;
    let sy = -sin * (-c - dx) + cos * oy + c;
    for (let x = 0; x < IMAGE_SIZE; x++, sx += cos, sy -= sin) {
      out[y * IMAGE_SIZE + x] = bilinear(src, srcOffset, sx, sy);
    }
  }
}

const LAST = IMAGE_SIZE - 1;

/** The source sampled at (x, y) between pixels; outside the image is black. */
function bilinear(src: Uint8Array, offset: number, x: number, y: number): number {
  if (x <= -1 || y <= -1 || x >= IMAGE_SIZE || y >= IMAGE_SIZE) return 0;
  const x0 = Math.floor(x);
  const y0 = Math.floor(y);
  const fx = x - x0;
  const fy = y - y0;
  const i = offset + y0 * IMAGE_SIZE + x0;
  // Neighbours that fall off the image count as 0.
  const left = x0 >= 0;
  const right = x0 < LAST;
  const up = y0 >= 0;
  const down = y0 < LAST;
  const a = up && left ? src[i] : 0;
  const b = up && right ? src[i + 1] : 0;
  const d = down && left ? src[i + IMAGE_SIZE] : 0;
  const e = down && right ? src[i + IMAGE_SIZE + 1] : 0;
  const top = a + (b - a) * fx;
  const bottom = d + (e - d) * fx;
  return top + (bottom - top) * fy;
}

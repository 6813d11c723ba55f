import { NOT_A_DIGIT, PIXELS, type ImageSet } from './types.js';
import { PREPROCESS_SPEC, scalePixels, type PreprocessSpec } from './model-input.js';
import type { Rng } from '../util/rng.js';
import { augmentImage, type AugmentBounds } from './augment.js';

/**
 * Fills reusable batch buffers from an ImageSet: no allocation per batch. Every image goes
 * through `scalePixels`, the same last step of preprocessing that prediction uses.
 */
export class BatchFiller {
  readonly x: Float32Array;
  readonly y: Int32Array;
  private readonly scratch = new Float32Array(PIXELS);

  /**
   * `buffers`: fill these instead of fresh ones (e.g. shared with training threads). `spec`: the
   * model-input contract of the model the batches are for (a run records its own).
   */
  constructor(
    readonly maxBatch: number,
    buffers?: { x: Float32Array; y: Int32Array },
    private readonly spec: PreprocessSpec = PREPROCESS_SPEC,
  ) {
    this.x = buffers?.x ?? new Float32Array(maxBatch * PIXELS);
    this.y = buffers?.y ?? new Int32Array(maxBatch);
  }

  /** Fill from `order[start..end)`; with `augment`, each image gets a random distortion. Returns the batch size. */
  fill(
    set: ImageSet,
    order: ArrayLike<number>,
    start: number,
    end: number,
    augment?: { rng: Rng; bounds: AugmentBounds },
  ): number {
    const n = end - start;
    for (let j = 0; j < n; j++) {
      const i = order[start + j];
      const slot = this.x.subarray(j * PIXELS, (j + 1) * PIXELS);
      if (augment) {
        augmentImage(set.images, i * PIXELS, this.scratch, augment.rng, augment.bounds);
        scalePixels(this.scratch, slot, this.spec);
      } else {
        scalePixels(set.images.subarray(i * PIXELS, (i + 1) * PIXELS), slot, this.spec);
      }
      this.y[j] = set.labels[i];
    }
    return n;
  }

  /**
   * Add non-digit pictures (28x28 bytes each in `images`, those at `picks`) after the first n rows,
   * labelled NOT_A_DIGIT (the model's not-a-digit output) and augmented like the digits, then spread them evenly through the
   * batch, so that every training thread's part (and its batch-norm statistics) gets its share.
   * Returns the new batch size.
   */
  fillNonDigits(
    images: Uint8Array,
    picks: ArrayLike<number>,
    n: number,
    augment?: { rng: Rng; bounds: AugmentBounds },
  ): number {
    const k = picks.length;
    for (let j = 0; j < k; j++) {
      const slot = this.x.subarray((n + j) * PIXELS, (n + j + 1) * PIXELS);
      if (augment) {
        augmentImage(images, picks[j] * PIXELS, this.scratch, augment.rng, augment.bounds);
        scalePixels(this.scratch, slot, this.spec);
      } else {
        scalePixels(images.subarray(picks[j] * PIXELS, (picks[j] + 1) * PIXELS), slot, this.spec);
      }
      this.y[n + j] = NOT_A_DIGIT;
    }
    for (let j = 0; j < k; j++) {
      const to = Math.floor(((j + 0.5) * (n + k)) / k);
      if (to < n + j) this.swapRows(to, n + j);
    }
    return n + k;
  }

  private swapRows(a: number, b: number): void {
    this.scratch.set(this.x.subarray(a * PIXELS, (a + 1) * PIXELS));
    this.x.copyWithin(a * PIXELS, b * PIXELS, (b + 1) * PIXELS);
    this.x.set(this.scratch, b * PIXELS);
    const y = this.y[a];
    this.y[a] = this.y[b];
    this.y[b] = y;
  }
}

/** 0..n-1 in order. */
export function identityOrder(n: number): Uint32Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  return order;
}

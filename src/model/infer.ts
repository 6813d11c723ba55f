import * as tf from '@tensorflow/tfjs';
import { IMAGE_SIZE, NUM_CLASSES, PIXELS, type ImageSet } from '../data/types.js';
import { BatchFiller, identityOrder } from '../train/batches.js';
import { accuracy, argmaxRows, meanCrossEntropy } from '../evaluate/metrics.js';
import { scalePixels } from '../predict/preprocess.js';
import { predictRows, type ModelReplicas } from '../backend/replicas.js';

/**
 * Images per inference batch. Smaller batches stay in cache: over the test set, 256 ran faster
 * than 512, 1,000 or more (on two threads, compact net: 21,400 vs 20,600 vs 17,600 images/s).
 */
export const DEFAULT_INFER_BATCH = 256;

/** A view of an image moved by whole pixels: +dx to the right, +dy down. */
export type PixelShift = readonly [dx: number, dy: number];

/**
 * The views test-time augmentation averages: the image itself and its one-pixel shifts right,
 * left, down and up. Measured on the quick test model (MNIST test set): +0.26 points of
 * accuracy for ~4.8x the time; adding the four diagonal shifts gained no more (on 2,000
 * images) for twice the time, and left/right alone gained a third as much.
 */
export const TTA_VIEWS: readonly PixelShift[] = [[0, 0], [1, 0], [-1, 0], [0, 1], [0, -1]];

export interface InferenceOptions {
  /** Test-time augmentation: average the probabilities over TTA_VIEWS of each image. */
  tta?: boolean;
}

/** The model input of a black pixel: what shifted-in borders are filled with. */
const BACKGROUND = scalePixels([0])[0];

/**
 * Copy `count` 28x28 images from `src` to `dst`, each moved by `shift`; pixels moved in from
 * outside are `background`. Shifting the batch buffer in JavaScript and calling the model once
 * per view measured faster than tf pad+slice per view (~10%) or one model call over all views
 * concatenated (~40%: the big batch falls out of cache).
 */
export function shiftImages(src: Float32Array, dst: Float32Array, count: number, [dx, dy]: PixelShift, background = BACKGROUND): void {
  for (let i = 0; i < count; i++) {
    const base = i * PIXELS;
    for (let y = 0; y < IMAGE_SIZE; y++) {
      const sy = y - dy;
      const row = base + y * IMAGE_SIZE;
      if (sy < 0 || sy >= IMAGE_SIZE) {
        dst.fill(background, row, row + IMAGE_SIZE);
        continue;
      }
      const from = base + sy * IMAGE_SIZE;
      for (let x = 0; x < IMAGE_SIZE; x++) {
        const sx = x - dx;
        dst[row + x] = sx < 0 || sx >= IMAGE_SIZE ? background : src[from + sx];
      }
    }
  }
}

/**
 * The mean of the model's probabilities over `views` of every image of a set, in batches: an
 * n x 10 row-major array. With the single view [0, 0] it is plain prediction.
 */
export function predictOverViews(model: tf.LayersModel, set: ImageSet, batchSize: number, views: readonly PixelShift[]): Float32Array {
  if (views.length === 0) throw new RangeError('predictOverViews needs at least one view');
  const size = Math.max(1, Math.min(batchSize, set.count));
  const out = new Float32Array(set.count * NUM_CLASSES);
  const filler = new BatchFiller(size);
  const shifted = new Float32Array(filler.x.length);
  const probs = new Float32Array(size * NUM_CLASSES);
  const order = identityOrder(set.count);
  const unshifted = views.length === 1 && views[0][0] === 0 && views[0][1] === 0;
  for (let start = 0; start < set.count; start += size) {
    const n = filler.fill(set, order, start, Math.min(set.count, start + size));
    const rows = out.subarray(start * NUM_CLASSES, (start + n) * NUM_CLASSES);
    if (unshifted) {
      predictRows(model, filler.x, 0, n, rows);
      continue;
    }
    for (const view of views) {
      shiftImages(filler.x, shifted, n, view);
      predictRows(model, shifted, 0, n, probs);
      for (let i = 0; i < rows.length; i++) rows[i] += probs[i] / views.length;
    }
  }
  return out;
}

/**
 * Class probabilities for every image of a set, in batches: an n x 10 row-major array. With
 * `tta`, the mean over TTA_VIEWS of each image.
 */
export function predictProbabilities(model: tf.LayersModel, set: ImageSet, batchSize = DEFAULT_INFER_BATCH, options: InferenceOptions = {}): Float32Array {
  return predictOverViews(model, set, batchSize, options.tta ? TTA_VIEWS : [[0, 0]]);
}

/**
 * predictProbabilities on all the threads of `replicas` (see backend/replicas.ts): each batch is
 * split by rows between the threads. The same probabilities, sooner.
 */
export async function predictInParallel(replicas: ModelReplicas, set: ImageSet, batchSize = DEFAULT_INFER_BATCH, options: InferenceOptions = {}): Promise<Float32Array> {
  const views = options.tta ? TTA_VIEWS : ([[0, 0]] as const);
  const size = Math.max(1, Math.min(batchSize, replicas.maxBatch, set.count));
  const out = new Float32Array(set.count * NUM_CLASSES);
  // Without views, images go straight into the shared batch and probabilities straight out.
  const plain = views.length === 1;
  const filler = new BatchFiller(size, plain ? replicas.batch : undefined);
  const probs = new Float32Array(size * NUM_CLASSES);
  const order = identityOrder(set.count);
  for (let start = 0; start < set.count; start += size) {
    const n = filler.fill(set, order, start, Math.min(set.count, start + size));
    const rows = out.subarray(start * NUM_CLASSES, (start + n) * NUM_CLASSES);
    if (plain) {
      await replicas.predict(n, rows);
      continue;
    }
    for (const view of views) {
      shiftImages(filler.x, replicas.batch.x, n, view);
      await replicas.predict(n, probs);
      for (let i = 0; i < rows.length; i++) rows[i] += probs[i] / views.length;
    }
  }
  return out;
}

/** Accuracy and mean cross-entropy of probabilities against labels (the evaluation stage's definitions). */
export function accuracyAndLoss(probs: Float32Array, labels: Uint8Array): { accuracy: number; loss: number } {
  return { accuracy: accuracy(labels, argmaxRows(probs)), loss: meanCrossEntropy(probs, labels) };
}

import { PREPROCESS_SPEC, scalePixels, type PreprocessSpec } from '../data/model-input.js';
import { BatchFiller, identityOrder } from '../data/batches.js';
import { IMAGE_SIZE, PIXELS, type ImageSet } from '../data/types.js';
import type { ModelRunner } from '../backend/model-runner.js';

/**
 * The batched model calls of the one inference path: every probability this project computes
 * (validation during training, `evaluate`, `predict`, the server) comes from `predictSet` or
 * `predictRowsOf` here, through a ModelRunner (backend/runner.ts): a ModelReplicas (TensorFlow.js
 * on its threads; one thread: the main one only) or an OnnxRunner (ONNX Runtime).
 */

/**
 * Images per inference batch. Smaller batches stay in cache: over the test set, 256 ran faster
 * than 512, 1,000 or more (on two threads, compact net).
 */
export const DEFAULT_INFER_BATCH = 256;

/** A view of an image moved by whole pixels: +dx to the right, +dy down. */
export type PixelShift = readonly [dx: number, dy: number];

/**
 * The views test-time augmentation averages: the image itself and its one-pixel shifts right,
 * left, down and up. Measured on the quick test model (MNIST test set): +0.26 points of
 * accuracy for about five times the time (a model call per view); adding the four diagonal
 * shifts gained no more (on 2,000 images) for twice the time, and left/right alone gained a
 * third as much.
 */
export const TTA_VIEWS: readonly PixelShift[] = [
  [0, 0],
  [1, 0],
  [-1, 0],
  [0, 1],
  [0, -1],
];
const PLAIN: readonly PixelShift[] = [[0, 0]];

export interface SetInferenceOptions {
  /** Images per model call (default DEFAULT_INFER_BATCH). */
  batchSize?: number;
  /** Test-time augmentation: average the probabilities over TTA_VIEWS of each image. */
  tta?: boolean;
  /** The views to average, instead of TTA_VIEWS or the image alone (tests, experiments). */
  views?: readonly PixelShift[];
  /** The model-input contract the model was trained with (default PREPROCESS_SPEC). */
  spec?: PreprocessSpec;
}

/**
 * Copy `count` 28x28 images from `src` to `dst`, each moved by `shift`; pixels moved in from
 * outside are `background`. Shifting the batch buffer in JavaScript and calling the model once
 * per view measured faster than tf pad+slice per view, and faster still than one model call over
 * all views concatenated (the big batch falls out of cache).
 */
export function shiftImages(
  src: Float32Array,
  dst: Float32Array,
  count: number,
  [dx, dy]: PixelShift,
  background: number,
): void {
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
 * Class probabilities for every image of a set, in batches through `runner` (split by rows
 * between its threads): an n x `runner.outputs` row-major array (10, or 11 with not-a-digit). With `tta`, the mean over TTA_VIEWS of each image.
 */
export async function predictSet(
  runner: ModelRunner,
  set: ImageSet,
  options: SetInferenceOptions = {},
): Promise<Float32Array> {
  const views = options.views ?? (options.tta ? TTA_VIEWS : PLAIN);
  if (views.length === 0) throw new RangeError('predictSet needs at least one view');
  const spec = options.spec ?? PREPROCESS_SPEC;
  const size = Math.max(
    1,
    Math.min(options.batchSize ?? DEFAULT_INFER_BATCH, runner.maxBatch, runner.bestCallSize ?? Infinity, set.count),
  );
  const width = runner.outputs;
  const out = new Float32Array(set.count * width);
  // Without views, images go straight into the shared batch and probabilities straight out.
  const plain = views.length === 1;
  // The runner's batch holds images only: the labels the filler copies go to a buffer of their own.
  const filler = new BatchFiller(size, plain ? { x: runner.batch.x, y: new Int32Array(size) } : undefined, spec);
  const probs = new Float32Array(size * width);
  const order = identityOrder(set.count);
  const background = scalePixels([0], undefined, spec)[0];
  for (let start = 0; start < set.count; start += size) {
    const n = filler.fill(set, order, start, Math.min(set.count, start + size));
    const rows = out.subarray(start * width, (start + n) * width);
    if (plain) {
      await runner.predict(n, rows);
      continue;
    }
    for (const view of views) {
      shiftImages(filler.x, runner.batch.x, n, view, background);
      await runner.predict(n, probs);
      for (let i = 0; i < rows.length; i++) rows[i] += probs[i] / views.length;
    }
  }
  return out;
}

/** Class probabilities of inputs already at the model's scale (`count` rows of PIXELS values). */
export async function predictRowsOf(
  runner: ModelRunner,
  inputs: Float32Array[],
  batchSize = DEFAULT_INFER_BATCH,
): Promise<Float32Array> {
  const size = Math.max(1, Math.min(batchSize, runner.maxBatch));
  const width = runner.outputs;
  const out = new Float32Array(inputs.length * width);
  for (let start = 0; start < inputs.length; start += size) {
    const n = Math.min(size, inputs.length - start);
    for (let j = 0; j < n; j++) {
      const input = inputs[start + j];
      if (input.length !== PIXELS)
        throw new RangeError(`input ${start + j} has ${input.length} values, the model takes ${PIXELS}`);
      runner.batch.x.set(input, j * PIXELS);
    }
    await runner.predict(n, out.subarray(start * width, (start + n) * width));
  }
  return out;
}

/**
 * MNIST digits as people's pictures of them (enlarged, somewhere on a sheet of paper, clean or
 * photo-like, now and then light on dark), put through the photo pipeline: training data for a
 * run with the "not a digit" output. Every non-digit it trains on comes through the photo
 * pipeline while MNIST digits come as MNIST made them, so without these the network can learn
 * the pipeline's look as a sign of "not a digit". It did: `npm start`'s model (seed 1) refused
 * 0.4% of its 2,500 validation digits as MNIST images and 0.8% of the same digits enlarged into
 * pictures (seed 2: 0.44% and 1.0%); the outlier-exposure model before it 0.28% and 0.4%.
 */
import { PREPROCESS_SPEC, type PreprocessSpec } from '../data/model-input.js';
import { IMAGE_SIZE, PIXELS, type ImageSet } from '../data/types.js';
import type { Rng } from '../util/rng.js';
import { InkCanvas, onPaper, randomPaperStyle } from './ink-canvas.js';
import { resample } from './pixel-ops.js';
import { preprocessImage, type RawImage } from './preprocess.js';

/** A picture of an MNIST digit (28x28, white on black): enlarged 2 or 3 times onto paper, with a margin of up to a quarter of its size on each side. */
export function mnistDigitPicture(pixels: Uint8Array, rng: Rng): RawImage {
  const side = IMAGE_SIZE * (2 + rng.int(2));
  const margin = () => rng.int(Math.floor(side / 4) + 1);
  const left = margin();
  const top = margin();
  const width = left + side + margin();
  const height = top + side + margin();
  const ink = resample(
    { data: Float32Array.from(pixels, (v) => v / 255), width: IMAGE_SIZE, height: IMAGE_SIZE },
    side,
    side,
  );
  const canvas = new InkCanvas(width, height);
  for (let y = 0; y < side; y++) canvas.ink.set(ink.data.subarray(y * side, (y + 1) * side), (top + y) * width + left);
  return onPaper(canvas, randomPaperStyle(rng), rng);
}

/**
 * The set with about `share` of its images replaced by the model input of a picture of them
 * (`mnistDigitPicture` through the photo pipeline), labels unchanged; a picture the pipeline
 * refuses (none seen so far) leaves its image as it was. Returns a new set; `set` is untouched.
 */
export function withPicturedDigits(
  set: ImageSet,
  share: number,
  rng: Rng,
  spec: PreprocessSpec = PREPROCESS_SPEC,
): ImageSet {
  if (share <= 0) return set;
  const images = set.images.slice();
  for (let i = 0; i < set.count; i++) {
    if (rng.next() >= share) continue;
    const { pixels, reason } = preprocessImage(
      mnistDigitPicture(set.images.subarray(i * PIXELS, (i + 1) * PIXELS), rng),
      { spec },
    );
    if (!reason) images.set(pixels, i * PIXELS);
  }
  return { ...set, images };
}

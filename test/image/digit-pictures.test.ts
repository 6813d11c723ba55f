import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadMnist } from '../../src/data/load.js';
import { PIXELS, type ImageSet } from '../../src/data/types.js';
import { mnistDigitPicture, withPicturedDigits } from '../../src/image/digit-pictures.js';
import { preprocessMnistPixels } from '../../src/image/preprocess.js';
import { createRng } from '../../src/util/rng.js';
import { correlation } from '../helpers/digit-pictures.js';

let set: ImageSet;
before(async () => {
  const { train } = await loadMnist();
  set = { images: train.images.subarray(0, 400 * PIXELS), labels: train.labels.subarray(0, 400), count: 400 };
});

test("a digit's picture is larger than 28x28 and, through the photo pipeline, gives back an input like the digit's own", () => {
  const rng = createRng(3);
  const out = withPicturedDigits(set, 1, rng);
  let similar = 0;
  for (let i = 0; i < set.count; i++) {
    const own = preprocessMnistPixels(set.images.subarray(i * PIXELS, (i + 1) * PIXELS)).pixels;
    if (correlation(own, out.images.subarray(i * PIXELS, (i + 1) * PIXELS)) > 0.8) similar++;
  }
  // The same digit, drawn again by the pipeline: close, not identical (paper, light, resampling).
  assert.ok(similar >= 0.95 * set.count, `${similar} of ${set.count} alike`);
  assert.notDeepEqual(out.images, set.images);
  const picture = mnistDigitPicture(set.images.subarray(0, PIXELS), createRng(1));
  assert.ok(picture.width >= 56 && picture.height >= 56 && picture.channels === 1);
});

test('about `share` of the images are replaced, labels kept, the same for the same seed, the set itself untouched', () => {
  const before = set.images.slice();
  const a = withPicturedDigits(set, 0.25, createRng(9));
  const b = withPicturedDigits(set, 0.25, createRng(9));
  assert.deepEqual(a.images, b.images);
  assert.deepEqual(set.images, before);
  assert.equal(a.labels, set.labels);
  let replaced = 0;
  for (let i = 0; i < set.count; i++)
    if (a.images.subarray(i * PIXELS, (i + 1) * PIXELS).some((v, k) => v !== set.images[i * PIXELS + k])) replaced++;
  assert.ok(replaced > 0.15 * set.count && replaced < 0.35 * set.count, `${replaced} of ${set.count} replaced`);
  assert.equal(withPicturedDigits(set, 0, createRng(9)), set);
});

/**
 * The photo pipeline's answers on fixed sets of pictures, as one SHA-256 per set: the bytes of
 * every model input (`input`, Float32), every 28x28 `pixels`, every not-a-digit reason, and the
 * cleaned plane before any rounding (`extractInk`, Float32). Equal digests mean the pipeline
 * gives bit-identical answers; test/image/preprocess.golden.test.ts compares them with the
 * digests of the code as it was before it was made faster.
 *
 * The sets: MNIST test digits as the server gets them (a 28x28 PNG, read by our PNG reader,
 * which gives RGB) and as grey pixels, inverted (dark on light); MNIST digits photographed,
 * scanned, JPEG-compressed, small and off-centre; printed digits in every font, photographed,
 * on transparent and dark backgrounds (test/helpers/digit-pictures.ts); the generated
 * non-digits (src/image/non-digits.ts); seeded random pictures of 1x1 to 60x60, 1-4 channels.
 */
import { createHash, type Hash } from 'node:crypto';
import sharp from 'sharp';
import type { Dataset } from '../../src/data/index.js';
import { decodeImage } from '../../src/image/decode.js';
import { drawNonDigit, NON_DIGIT_CATEGORIES, type NonDigitCategory } from '../../src/image/non-digits.js';
import type { InkPlane, Preprocessed, PreprocessOptions, RawImage } from '../../src/image/preprocess.js';
import { createRng } from '../../src/util/rng.js';
import { FONTS, MNIST_KINDS, PRINTED_KINDS, mnistAs, printedAs } from './digit-pictures.js';

/** The two entry points of the pipeline, so that an old copy of it can be digested too. */
export interface Pipeline {
  preprocessImage(image: RawImage, options?: PreprocessOptions): Preprocessed;
  extractInk(image: RawImage): InkPlane;
}

export type DigestSet =
  'mnist-png' | 'mnist-gray' | 'mnist-inverted' | 'mnist-distorted' | 'printed' | 'non-digits' | 'random';

/** How many pictures of each set (the golden digests were recorded with these counts). */
const DIGEST_COUNTS = { mnist: 2000, perKind: 8, perNonDigitCategory: 8, random: 600 } as const;

/**
 * The non-digit categories the golden digests were recorded with: the generator's later ones
 * (zigzags, spirals... issue 26) are new pictures, not a change of the pipeline, and stay out.
 */
const DIGESTED_NON_DIGIT_CATEGORIES: readonly NonDigitCategory[] = NON_DIGIT_CATEGORIES.slice(
  0,
  NON_DIGIT_CATEGORIES.indexOf('strokes') + 1,
);

function add(hash: Hash, pipeline: Pipeline, image: RawImage): void {
  const p = pipeline.preprocessImage(image);
  const ink = pipeline.extractInk(image);
  hash.update(`${p.reason ?? '-'}|${ink.blank}|`);
  hash.update(new Uint8Array(p.input.buffer, p.input.byteOffset, p.input.byteLength));
  hash.update(p.pixels);
  hash.update(new Uint8Array(ink.plane.data.buffer, ink.plane.data.byteOffset, ink.plane.data.byteLength));
}

/** One digest per set; pictures made afresh (seeded) on each call. */
export async function preprocessDigests(pipeline: Pipeline, data: Dataset): Promise<Record<DigestSet, string>> {
  const hashes = Object.fromEntries(
    (['mnist-png', 'mnist-gray', 'mnist-inverted', 'mnist-distorted', 'printed', 'non-digits', 'random'] as const).map(
      (set) => [set, createHash('sha256')],
    ),
  ) as Record<DigestSet, Hash>;
  const digit = (i: number) => data.test.images.subarray(i * 784, (i + 1) * 784);
  for (let i = 0; i < DIGEST_COUNTS.mnist; i++) {
    const pixels = digit(i);
    const png = await sharp(Buffer.from(pixels), { raw: { width: 28, height: 28, channels: 1 } })
      .png()
      .toBuffer();
    add(hashes['mnist-png'], pipeline, await decodeImage(new Uint8Array(png), `digit-${i}.png`));
    add(hashes['mnist-gray'], pipeline, { data: pixels, width: 28, height: 28, channels: 1 });
    add(hashes['mnist-inverted'], pipeline, { data: pixels.map((v) => 255 - v), width: 28, height: 28, channels: 1 });
  }
  const rng = createRng(17);
  for (const kind of MNIST_KINDS) {
    for (let i = 0; i < DIGEST_COUNTS.perKind; i++) {
      const generated = await mnistAs(kind, digit(500 + i), data.test.labels[500 + i], rng);
      add(hashes['mnist-distorted'], pipeline, await decodeImage(generated.bytes, `${kind}-${i}${generated.ext}`));
    }
  }
  for (const kind of PRINTED_KINDS) {
    for (let i = 0; i < DIGEST_COUNTS.perKind; i++) {
      const generated = await printedAs(kind, i % 10, FONTS[i % FONTS.length], rng);
      add(hashes.printed, pipeline, await decodeImage(generated.bytes, `${kind}-${i}${generated.ext}`));
    }
  }
  for (const category of DIGESTED_NON_DIGIT_CATEGORIES) {
    for (let i = 0; i < DIGEST_COUNTS.perNonDigitCategory; i++)
      add(hashes['non-digits'], pipeline, await drawNonDigit(category, i % 2 ? 'train' : 'test', rng));
  }
  // Its own stream: a change in how many draws the sets above take (a new non-digit shape) leaves these pictures alone.
  const randomRng = createRng(18);
  for (let i = 0; i < DIGEST_COUNTS.random; i++) {
    // Tiny pictures first (edge cases of every step), then up to 60x60: noise, sparse ink on black, dark specks on light, flat grey.
    const side = i < 200 ? 6 : 60;
    const width = 1 + randomRng.int(side);
    const height = 1 + randomRng.int(side);
    const channels = (1 + randomRng.int(4)) as RawImage['channels'];
    const bytes = new Uint8Array(width * height * channels);
    for (let k = 0; k < bytes.length; k++) {
      const mode = i % 4;
      bytes[k] =
        mode === 0
          ? randomRng.int(256)
          : mode === 1
            ? randomRng.next() < 0.1
              ? 255
              : 0
            : mode === 2
              ? randomRng.next() < 0.1
                ? 0
                : 250
              : 128;
    }
    add(hashes.random, pipeline, { data: bytes, width, height, channels });
  }
  return Object.fromEntries(Object.entries(hashes).map(([set, hash]) => [set, hash.digest('hex')])) as Record<
    DigestSet,
    string
  >;
}

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connectedComponents } from '../../src/image/pixel-ops.js';
import { extractInk } from '../../src/image/preprocess.js';
import { segmentNumber } from '../../src/image/segment.js';
import { preprocessImage, type RawImage } from '../../src/image/preprocess.js';
import { createRng } from '../../src/util/rng.js';
import { FONTS, grayOf, photoLike, renderText, shiftTolerantCorrelation } from '../helpers/digit-pictures.js';

/** The digits of `text` each rendered alone, preprocessed: what segmentNumber's pieces should look like. */
async function singles(text: string, font: (typeof FONTS)[number], size = 120): Promise<Uint8Array[]> {
  return Promise.all(
    [...text].map(
      async (ch) =>
        preprocessImage(
          await renderText({ text: ch, font, width: 2 * size, height: 2 * size, size, ink: 'black', paper: 'white' }),
        ).pixels,
    ),
  );
}

/** Which single digit each segmented piece looks most like. */
function matchOrder(pieces: Uint8Array[], references: Uint8Array[]): number[] {
  return pieces.map((p) => {
    const scores = references.map((r) => shiftTolerantCorrelation(p, r));
    return scores.indexOf(Math.max(...scores));
  });
}

test('"2026" in every font: four digits, left to right, each like the digit rendered alone', async () => {
  for (const font of FONTS) {
    const image = await renderText({
      text: '2026',
      font,
      width: 520,
      height: 200,
      size: 120,
      ink: 'black',
      paper: 'white',
    });
    const found = segmentNumber(image);
    assert.equal(found.digits.length, 4, `${font.family} ${font.weight}`);
    const xs = found.boxes.map((b) => b.x);
    assert.deepEqual(
      xs,
      [...xs].sort((a, b) => a - b),
      'boxes are in reading order',
    );
    // References 2, 0, 6 (distinct glyphs); the pieces must match 2, 0, 2, 6 in that order.
    const order = matchOrder(
      found.digits.map((d) => d.pixels),
      await singles('206', font),
    );
    assert.deepEqual(order, [0, 1, 0, 2], `${font.family} ${font.weight}`);
  }
});

test('a number photographed under uneven light, light on dark, and on a transparent background', async () => {
  const rng = createRng(4);
  const font = FONTS[4];
  const base = { text: '4815', font, width: 600, height: 220, size: 130 };
  const clean = await renderText({ ...base, ink: 'black', paper: 'white' });
  const variants: Record<string, RawImage> = {
    photo: await photoLike(clean, rng, { dark: 0.4, noise: 8 }),
    'light on dark': await renderText({ ...base, ink: '#eee', paper: '#123' }),
    transparent: await renderText({ ...base, ink: 'black', paper: 'none' }),
  };
  const references = await singles('4815', font);
  for (const [name, image] of Object.entries(variants)) {
    const found = segmentNumber(image);
    assert.deepEqual(
      matchOrder(
        found.digits.map((d) => d.pixels),
        references,
      ),
      [0, 1, 2, 3],
      name,
    );
  }
});

test('touching digits are cut at the column of least ink; a digit broken in two pieces stays one', async () => {
  const font = FONTS[0];
  const zero = (await singles('0', font, 150))[0];
  // At -20 px the zeros touch (a valley of ink between them); at -25 px they overlap.
  for (const [spacing, similarity] of [
    [-20, 0.95],
    [-25, 0.9],
  ]) {
    const touching = await renderText({
      text: '00',
      font,
      width: 300,
      height: 200,
      size: 150,
      ink: 'black',
      paper: 'white',
      letterSpacing: spacing,
    });
    const gray: RawImage = { data: grayOf(touching), width: touching.width, height: touching.height, channels: 1 };
    assert.equal(
      connectedComponents(extractInk(gray).plane, 64).components.length,
      1,
      `the zeros touch at ${spacing} px`,
    );
    const pieces = segmentNumber(gray);
    assert.equal(pieces.digits.length, 2);
    for (const d of pieces.digits) {
      const r = shiftTolerantCorrelation(d.pixels, zero);
      assert.ok(r > similarity, `${spacing} px: a half reads like a 0 (correlation ${r.toFixed(2)})`);
    }
  }

  const five = await renderText({ text: '75', font, width: 300, height: 200, size: 150, ink: 'black', paper: 'white' });
  const broken = grayOf(five);
  // Break the 5 with a white band across its middle: two pieces stacked in the same columns.
  for (let y = 100; y < 108; y++) for (let x = 150; x < 300; x++) broken[y * five.width + x] = 255;
  const found = segmentNumber({ data: broken, width: five.width, height: five.height, channels: 1 });
  assert.equal(found.digits.length, 2);
  assert.deepEqual(
    matchOrder(
      found.digits.map((d) => d.pixels),
      await singles('75', font),
    ),
    [0, 1],
  );
});

test('specks and a blank picture', async () => {
  const font = FONTS[2];
  const image = await renderText({
    text: '31',
    font,
    width: 400,
    height: 200,
    size: 120,
    ink: 'black',
    paper: 'white',
  });
  const gray = grayOf(image);
  // Dust: a few 2x2 dark dots.
  for (const [x, y] of [
    [20, 20],
    [380, 30],
    [200, 185],
    [60, 170],
  ])
    for (let d = 0; d < 4; d++) gray[(y + (d >> 1)) * 400 + x + (d & 1)] = 0;
  assert.equal(segmentNumber({ data: gray, width: 400, height: 200, channels: 1 }).digits.length, 2);
  const blank = segmentNumber({ data: new Uint8Array(300 * 100).fill(250), width: 300, height: 100, channels: 1 });
  assert.equal(blank.reason, 'blank');
  assert.equal(blank.digits.length, 0);
});

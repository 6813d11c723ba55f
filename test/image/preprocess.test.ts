import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadMnist } from '../../src/data/index.js';
import { decodeImage } from '../../src/image/decode.js';
import { scalePixels } from '../../src/data/model-input.js';
import { preprocessImage, preprocessMnistPixels, type RawImage } from '../../src/image/preprocess.js';
import { centreOfMass } from '../../src/image/pixel-ops.js';
import { createRng } from '../../src/util/rng.js';
import {
  FONTS,
  MNIST_KINDS,
  correlation,
  mnistAs,
  photoLike,
  renderText,
  shiftTolerantCorrelation,
} from '../helpers/digit-pictures.js';

const data = await loadMnist();
const digitAt = (i: number) => data.test.images.subarray(i * 784, (i + 1) * 784);
const gray28 = (pixels: Uint8Array): RawImage => ({ data: pixels, width: 28, height: 28, channels: 1 });

function inkBox(pixels: Uint8Array): { width: number; height: number } {
  let [x0, x1, y0, y1] = [28, -1, 28, -1];
  for (let i = 0; i < 784; i++)
    if (pixels[i] > 0) {
      const x = i % 28;
      const y = (i - x) / 28;
      [x0, x1, y0, y1] = [Math.min(x0, x), Math.max(x1, x), Math.min(y0, y), Math.max(y1, y)];
    }
  return { width: x1 - x0 + 1, height: y1 - y0 + 1 };
}

test('the MNIST path is exactly what training feeds the model', () => {
  for (const i of [0, 1, 2, 4999, 9999]) {
    const pixels = digitAt(i);
    const p = preprocessMnistPixels(pixels);
    assert.deepEqual(p.input, scalePixels(pixels));
    assert.deepEqual(p.pixels, pixels);
    assert.equal(p.reason, undefined);
  }
  assert.throws(() => preprocessMnistPixels(new Uint8Array(100)), /784/);
});

test('an MNIST test digit given as a picture comes out of the full preprocessing (nearly) unchanged', () => {
  let exact = 0;
  let worstMeanDiff = 0;
  const n = 500;
  for (let i = 0; i < n; i++) {
    const pixels = digitAt(i);
    const p = preprocessImage(gray28(pixels));
    assert.equal(p.reason, undefined, `digit ${i} flagged ${p.reason}`);
    let diff = 0;
    let same = true;
    for (let k = 0; k < 784; k++) {
      diff += Math.abs(p.input[k] - pixels[k] / 255);
      if (p.pixels[k] !== pixels[k]) same = false;
    }
    worstMeanDiff = Math.max(worstMeanDiff, diff / 784);
    if (same) exact++;
  }
  // Measured: 996 in 1000 identical; the rest lose a stray speck a few pixels big.
  assert.ok(exact >= 0.98 * n, `${exact} of ${n} identical`);
  assert.ok(worstMeanDiff < 0.02, `worst mean |difference| ${worstMeanDiff.toFixed(4)} of the 0..1 scale`);
});

test('MNIST digits put through photo-like distortions come back close to the original 28x28', async () => {
  const rng = createRng(11);
  const n = 20;
  for (const kind of MNIST_KINDS) {
    const scores: number[] = [];
    for (let i = 0; i < n; i++) {
      const pixels = digitAt(100 + i);
      const generated = await mnistAs(kind, pixels, data.test.labels[100 + i], rng);
      const p = preprocessImage(await decodeImage(generated.bytes, `${kind}-${i}${generated.ext}`));
      assert.equal(p.reason, undefined, `${kind} ${i}: ${p.reason}`);
      scores.push(shiftTolerantCorrelation(p.pixels, pixels));
    }
    scores.sort((a, b) => a - b);
    const median = scores[n >> 1];
    // Measured medians 0.95-0.99 and worst cases above 0.8 (seed 11).
    assert.ok(median > 0.92, `${kind}: median correlation ${median.toFixed(3)}`);
    assert.ok(scores[0] > 0.7, `${kind}: worst correlation ${scores[0].toFixed(3)}`);
  }
});

test('the result is MNIST-shaped: ink fits 20x20 (longest side exactly 20) and its centre of mass is at (14,14)', async () => {
  const rng = createRng(3);
  for (const font of FONTS) {
    const picture = await renderText({
      text: String(rng.int(10)),
      font,
      width: 500,
      height: 300,
      size: 120,
      x: 100 + rng.int(300),
      y: 140 + rng.int(100),
      ink: 'black',
      paper: 'white',
    });
    const p = preprocessImage(picture);
    const box = inkBox(p.pixels);
    assert.equal(Math.max(box.width, box.height), 20, `${font.family}: box ${box.width}x${box.height}`);
    const com = centreOfMass({ data: Float32Array.from(p.pixels), width: 28, height: 28 });
    assert.ok(
      Math.abs(com.x - 14) <= 0.5 && Math.abs(com.y - 14) <= 0.5,
      `${font.family}: centre of mass (${com.x.toFixed(2)}, ${com.y.toFixed(2)})`,
    );
  }
});

test('polarity and transparency do not matter: dark on light, light on dark, black or white ink on a transparent background', async () => {
  const font = FONTS[0];
  const base = { text: '4', font, width: 200, height: 240, size: 160 };
  const reference = preprocessImage(await renderText({ ...base, ink: 'white', paper: 'black' })).pixels;
  const variants = {
    'dark on light': await renderText({ ...base, ink: 'black', paper: 'white' }),
    'navy on cream': await renderText({ ...base, ink: '#102060', paper: '#f4ecd8' }),
    'black ink, transparent': await renderText({ ...base, ink: 'black', paper: 'none' }),
    'white ink, transparent': await renderText({ ...base, ink: 'white', paper: 'none' }),
  };
  for (const [name, image] of Object.entries(variants)) {
    assert.equal(image.channels, 4);
    const p = preprocessImage(image);
    assert.equal(p.reason, undefined, name);
    const r = correlation(p.pixels, reference);
    assert.ok(r > 0.97, `${name}: correlation ${r.toFixed(3)} with white on black`);
  }
});

test('a photo of a printed digit under uneven light reads like the clean print', async () => {
  const rng = createRng(5);
  const clean = await renderText({
    text: '7',
    font: FONTS[2],
    width: 300,
    height: 300,
    size: 220,
    ink: 'black',
    paper: 'white',
  });
  const reference = preprocessImage(clean).pixels;
  for (let i = 0; i < 5; i++) {
    const photo = await photoLike(clean, rng, { dark: 0.35, noise: 10 });
    const p = preprocessImage(photo);
    const r = shiftTolerantCorrelation(p.pixels, reference);
    assert.ok(r > 0.93, `photo ${i}: correlation ${r.toFixed(3)}`);
  }
});

test('blank pictures are not digits: reason "blank" and an empty input', async () => {
  const rng = createRng(9);
  const white = await renderText({
    text: '',
    font: FONTS[0],
    width: 120,
    height: 90,
    size: 40,
    ink: 'black',
    paper: 'white',
  });
  const blanks: Record<string, RawImage> = {
    white,
    black: { data: new Uint8Array(50 * 50), width: 50, height: 50, channels: 1 },
    'paper under uneven light, noisy': await photoLike(white, rng, { dark: 0.4, noise: 8 }),
    transparent: { data: new Uint8Array(40 * 40 * 4), width: 40, height: 40, channels: 4 },
  };
  for (const [name, image] of Object.entries(blanks)) {
    const p = preprocessImage(image);
    assert.equal(p.reason, 'blank', name);
    assert.ok(
      p.input.every((v) => v === 0),
      name,
    );
  }
});

test('scattered marks with no dominant stroke are not a digit', async () => {
  const rng = createRng(21);
  const width = 300;
  const height = 300;
  const data = new Uint8Array(width * height).fill(255);
  // Thirty short strokes of similar size scattered over the page.
  for (let k = 0; k < 30; k++) {
    const x = 10 + rng.int(270);
    const y = 10 + rng.int(270);
    for (let d = 0; d < 14; d++) for (let t = 0; t < 3; t++) data[(y + t) * width + x + d] = 20;
  }
  const p = preprocessImage({ data, width, height, channels: 1 });
  assert.equal(p.reason, 'no dominant stroke');
  const text = await renderText({
    text: 'hello world',
    font: FONTS[0],
    width: 400,
    height: 100,
    size: 50,
    ink: 'black',
    paper: 'white',
  });
  assert.equal(preprocessImage(text).reason, 'no dominant stroke');
});

test('ink too small for the picture (a dot, a tick) is not a digit; the smallest digits of our pictures are', async () => {
  const sheet = (width: number, height: number, ink: (x: number, y: number) => boolean): RawImage => {
    const data = new Uint8Array(width * height).fill(235);
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) if (ink(x, y)) data[y * width + x] = 30;
    return { data, width, height, channels: 1 };
  };
  // A dot 9 px across on a 400x300 sheet (2.2%; under 8 px it would be a speck), and a tick 10 px long.
  assert.equal(preprocessImage(sheet(400, 300, (x, y) => (x - 200) ** 2 + (y - 120) ** 2 < 20)).reason, 'too small');
  assert.equal(
    preprocessImage(sheet(400, 300, (x, y) => x >= 100 && x < 110 && y >= 50 && y < 53)).reason,
    'too small',
  );
  assert.equal(
    preprocessImage(sheet(400, 300, (x, y) => (x - 200) ** 2 + (y - 120) ** 2 < 64)).reason,
    undefined,
    'a dot 16 px across (4%) is left to the model',
  );
  // The same dot filling a third of a small picture is left to the model.
  assert.equal(preprocessImage(sheet(40, 40, (x, y) => (x - 20) ** 2 + (y - 20) ** 2 < 36)).reason, undefined);
  // MNIST digits 56 px high pasted on a 480x320 sheet (8.3% of it), and MNIST itself, are digits.
  const rng = createRng(4);
  for (const i of [0, 1, 2, 3, 4, 7, 11, 18]) {
    const picture = await mnistAs('mnist-small-offcentre', digitAt(i), data.test.labels[i], rng);
    assert.equal(preprocessImage(await decodeImage(picture.bytes, 'digit.png')).reason, undefined, `test digit ${i}`);
    assert.equal(preprocessImage(gray28(digitAt(i))).reason, undefined);
  }
});

test('keepStages returns every stage, ending with the 28x28 the model sees', async () => {
  const image = await renderText({
    text: '3',
    font: FONTS[1],
    width: 160,
    height: 200,
    size: 150,
    ink: 'black',
    paper: 'white',
  });
  const p = preprocessImage(image, { keepStages: true });
  assert.deepEqual(
    p.stages!.map((s) => s.name),
    ['grayscale', 'inverted', 'cleaned', 'cropped', 'scaled', 'centred'],
  );
  for (const s of p.stages!) assert.equal(s.pixels.length, s.width * s.height, s.name);
  assert.deepEqual(p.stages!.at(-1)!.pixels, p.pixels);
  assert.equal(preprocessImage(image).stages, undefined);
});

test('malformed pixel arrays are refused with the reason', () => {
  assert.throws(
    () => preprocessImage({ data: new Uint8Array(10), width: 4, height: 4, channels: 1 }),
    /10 bytes.*4x4x1 needs 16/,
  );
  assert.throws(
    () => preprocessImage({ data: new Uint8Array(0), width: 0, height: 4, channels: 1 }),
    /not a positive whole number/,
  );
  assert.throws(
    () => preprocessImage({ data: new Uint8Array(16 * 5), width: 4, height: 4, channels: 5 as 4 }),
    /5 channels/,
  );
});

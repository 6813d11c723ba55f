import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { loadMnist, loadImageFolder, PIXELS, type ImageSet } from '../../src/data/index.js';
import { decodeDigitImage } from '../../src/image/digit-file.js';
import { DataError, UserError } from '../../src/util/errors.js';
import { thirtyByteWebp } from '../serve/fixtures/bombs.js';

let work: string;
let mnistTest: ImageSet;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'mnist-folder-'));
  mnistTest = (await loadMnist()).test;
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

const imageAt = (i: number) => mnistTest.images.slice(i * PIXELS, (i + 1) * PIXELS);
const grayPng = (pixels: Uint8Array, size = 28) =>
  sharp(Buffer.from(pixels), { raw: { width: size, height: size, channels: 1 } })
    .png()
    .toBuffer();

/** A class folder tree holding the first `count` real test images as 28x28 grayscale PNGs. */
async function pngTree(count: number): Promise<string> {
  const dir = await mkdtemp(join(work, 'tree-'));
  for (let i = 0; i < count; i++) {
    const classDir = join(dir, String(mnistTest.labels[i]));
    await mkdir(classDir, { recursive: true });
    await writeFile(join(classDir, `img${String(i).padStart(3, '0')}.png`), await grayPng(imageAt(i)));
  }
  return dir;
}

test('28x28 grayscale PNGs in class folders read back byte for byte, in class then name order', async () => {
  const dir = await pngTree(40);
  await writeFile(join(dir, '.DS_Store'), 'hidden files are skipped');
  await mkdir(join(dir, 'notes'));
  const set = await loadImageFolder(dir, decodeDigitImage);
  assert.equal(set.count, 40);
  const order = Array.from({ length: 40 }, (_, i) => i).sort(
    (a, b) => mnistTest.labels[a] - mnistTest.labels[b] || a - b,
  );
  assert.deepEqual(
    Array.from(set.labels),
    order.map((i) => mnistTest.labels[i]),
  );
  order.forEach((i, j) => {
    assert.deepEqual(set.images.subarray(j * PIXELS, (j + 1) * PIXELS), imageAt(i), `image ${set.paths[j]}`);
  });
  assert.ok(
    set.paths[0].endsWith(join(String(mnistTest.labels[order[0]]), `img${String(order[0]).padStart(3, '0')}.png`)),
  );
});

test('a larger, black-on-white, colour JPEG goes through the one preprocessing and comes back close to the MNIST original', async () => {
  const digit = imageAt(0);
  const big = await sharp(Buffer.from(digit), { raw: { width: 28, height: 28, channels: 1 } })
    .resize(112, 112, { kernel: 'nearest' })
    .negate()
    .toColourspace('srgb')
    .jpeg({ quality: 95 })
    .toBuffer();
  const path = join(work, 'big.jpg');
  await writeFile(path, big);
  const pixels = await decodeDigitImage(path);
  assert.equal(pixels.length, PIXELS);
  let error = 0;
  for (let i = 0; i < PIXELS; i++) error += Math.abs(pixels[i] - digit[i]);
  assert.ok(error / PIXELS < 12, `mean absolute difference from the original is ${(error / PIXELS).toFixed(2)}`);
});

test('a file that is not an image is refused, naming its path', async () => {
  const dir = await pngTree(3);
  const bad = join(dir, String(mnistTest.labels[0]), 'broken.png');
  await writeFile(bad, 'this is not a PNG');
  await assert.rejects(loadImageFolder(dir, decodeDigitImage), (err: unknown) => {
    assert.ok(err instanceof DataError);
    assert.equal(err.file, bad);
    assert.match(
      err.message,
      new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: cannot be decoded as an image \\(`),
    );
    return true;
  });
});

test('a picture whose header is cut short (the 30-byte WebP of issue #24) is refused as what it is, naming its path, not as a RangeError', async () => {
  const dir = await pngTree(2);
  const bad = join(dir, String(mnistTest.labels[0]), 'w.webp');
  await writeFile(bad, thirtyByteWebp());
  await assert.rejects(loadImageFolder(dir, decodeDigitImage), (err: unknown) => {
    assert.ok(err instanceof DataError, String(err));
    assert.equal(err.file, bad);
    assert.match(err.message, /cannot be decoded as an image \(.*truncated or corrupt/);
    assert.doesNotMatch(err.message, /Offset|DataView|RangeError/);
    return true;
  });
});

test('a folder without class sub-folders, or that does not exist, is a clear UserError', async () => {
  const empty = await mkdtemp(join(work, 'empty-'));
  await mkdir(join(empty, 'cats'));
  await assert.rejects(
    loadImageFolder(empty, decodeDigitImage),
    (err: unknown) =>
      err instanceof UserError &&
      err.message === `${empty}: no class folders found (expected sub-folders named 0 to 9, one per class)`,
  );
  await mkdir(join(empty, '3'));
  await assert.rejects(
    loadImageFolder(empty, decodeDigitImage),
    (err: unknown) => err instanceof UserError && err.message === `${empty}: the class folders hold no images`,
  );
  const missing = join(work, 'missing');
  await assert.rejects(
    loadImageFolder(missing, decodeDigitImage),
    (err: unknown) => err instanceof UserError && err.message === `${missing}: cannot read the folder (ENOENT)`,
  );
});

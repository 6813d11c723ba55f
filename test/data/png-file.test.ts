import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { encodeGrayPng } from '../../src/data/png-file.js';
import { decodeSmallPng } from '../../src/image/png.js';

test('a gray PNG of stored deflate blocks reads back pixel for pixel in sharp and in our own small-PNG reader', async () => {
  const pixels = Uint8Array.from({ length: 784 }, (_, i) => (i * 13 + (i >> 5)) & 255);
  const png = encodeGrayPng(pixels, 28, 28);
  const { data, info } = await sharp(png).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
  assert.deepEqual([info.width, info.height], [28, 28]);
  assert.deepEqual(new Uint8Array(data), pixels);
  const ours = decodeSmallPng(png);
  assert.ok(ours, 'our reader takes it');
  assert.deepEqual(
    Uint8Array.from({ length: 784 }, (_, i) => ours.data[i * ours.channels]),
    pixels,
  );
});

test('a picture larger than one stored block (65,535 bytes) is split over several', async () => {
  const pixels = Uint8Array.from({ length: 300 * 300 }, (_, i) => i % 251);
  const { data } = await sharp(encodeGrayPng(pixels, 300, 300))
    .extractChannel(0)
    .raw()
    .toBuffer({ resolveWithObject: true });
  assert.deepEqual(new Uint8Array(data), pixels);
});

test('the same pixels make the same bytes; a size that does not match the pixels is refused', () => {
  const pixels = new Uint8Array(784).fill(9);
  assert.deepEqual(encodeGrayPng(pixels, 28, 28), encodeGrayPng(pixels.slice(), 28, 28));
  assert.throws(() => encodeGrayPng(pixels, 28, 27), /784 pixels are not a 28x27 picture/);
});

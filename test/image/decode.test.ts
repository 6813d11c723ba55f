import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { decodeImage } from '../../src/image/decode.js';
import { decodeBmp, encodeBmp24 } from '../../src/image/bmp.js';
import { preprocessImage } from '../../src/image/preprocess.js';
import { UserError } from '../../src/util/errors.js';
import { FONTS, correlation, encodePng, renderText } from '../helpers/digit-pictures.js';

const picture = await renderText({ text: '5', font: FONTS[0], width: 90, height: 110, size: 90, ink: 'black', paper: 'white' });
const reference = preprocessImage(picture).pixels;

test('every format sharp reads decodes to the same digit', async () => {
  const source = sharp(picture.data, { raw: { width: picture.width, height: picture.height, channels: picture.channels } });
  const files: Record<string, Buffer> = {
    'five.png': await source.clone().png().toBuffer(),
    'five.jpg': await source.clone().flatten({ background: '#fff' }).jpeg({ quality: 85 }).toBuffer(),
    'five.webp': await source.clone().webp({ quality: 85 }).toBuffer(),
    'five.gif': await source.clone().gif().toBuffer(),
    'five.tiff': await source.clone().tiff().toBuffer(),
    'five-gray.png': await source.clone().flatten({ background: '#fff' }).toColourspace('b-w').png().toBuffer(),
  };
  for (const [name, bytes] of Object.entries(files)) {
    const image = await decodeImage(new Uint8Array(bytes), name);
    assert.equal(image.width, picture.width, name);
    assert.equal(image.height, picture.height, name);
    const r = correlation(preprocessImage(image).pixels, reference);
    assert.ok(r > 0.97, `${name}: correlation ${r.toFixed(3)}`);
  }
});

test('BMP (which libvips cannot read) is decoded by our own reader: 24-bit round trip, 8-bit palette, 32-bit', async () => {
  const bmp = encodeBmp24(picture);
  const image = await decodeImage(bmp, 'five.bmp');
  assert.equal(image.channels, 3);
  for (let i = 0; i < picture.width * picture.height; i++) {
    assert.equal(image.data[i * 3], picture.data[i * 4], `pixel ${i}`);
  }
  // A 2x2, 8-bit palette BMP: row of (black, white) over (white, black), rows bottom-up, 4-byte aligned.
  const palette = new Uint8Array(54 + 8 + 8);
  const view = new DataView(palette.buffer);
  palette.set([0x42, 0x4d]);
  view.setUint32(10, 62, true);
  view.setUint32(14, 40, true);
  view.setInt32(18, 2, true);
  view.setInt32(22, 2, true);
  view.setUint16(28, 8, true);
  view.setUint32(46, 2, true);
  palette.set([0, 0, 0, 0, 255, 255, 255, 0], 54);
  palette.set([1, 0, 0, 0, 0, 1, 0, 0], 62);
  const small = decodeBmp(palette, 'tiny.bmp');
  assert.deepEqual(Array.from(small.data), [0, 0, 0, 255, 255, 255, 255, 255, 255, 0, 0, 0]);
  // 32-bit BI_RGB, top-down (negative height): blue-green-red-unused byte order.
  const bgra = new Uint8Array(54 + 4);
  const v32 = new DataView(bgra.buffer);
  bgra.set([0x42, 0x4d]);
  v32.setUint32(10, 54, true);
  v32.setUint32(14, 40, true);
  v32.setInt32(18, 1, true);
  v32.setInt32(22, -1, true);
  v32.setUint16(28, 32, true);
  bgra.set([10, 20, 30, 0], 54);
  assert.deepEqual(Array.from(decodeBmp(bgra, 'one.bmp').data), [30, 20, 10]);
});

async function rejection(bytes: Uint8Array, name: string): Promise<UserError> {
  try {
    await decodeImage(bytes, name);
  } catch (err) {
    assert.ok(err instanceof UserError, `${name}: ${(err as Error).name}`);
    assert.ok(err.message.startsWith(`${name}: `), err.message);
    return err;
  }
  assert.fail(`${name} was accepted`);
}

test('truncated, empty and non-image files are refused with the file named and the problem said', async () => {
  const png = await encodePng(picture);
  assert.match((await rejection(png.subarray(0, png.length >> 1), 'half.png')).message, /truncated or corrupt/);
  const jpeg = new Uint8Array(await sharp(png).jpeg().toBuffer());
  assert.match((await rejection(jpeg.subarray(0, jpeg.length >> 1), 'half.jpg')).message, /truncated or corrupt/);
  assert.match((await rejection(new Uint8Array(0), 'empty.png')).message, /empty/);
  assert.match((await rejection(new TextEncoder().encode('not a picture at all'), 'notes.txt')).message, /not a PNG, JPEG/);
  const bmp = encodeBmp24(picture);
  assert.match((await rejection(bmp.subarray(0, 1000), 'half.bmp')).message, /truncated/);
  const rle = bmp.slice();
  new DataView(rle.buffer).setUint32(30, 1, true);
  assert.match((await rejection(rle, 'rle.bmp')).message, /compression 1/);
});

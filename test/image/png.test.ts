import { test } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import sharp from 'sharp';
import { loadMnist, PIXELS } from '../../src/data/index.js';
import { decodeImage } from '../../src/image/decode.js';
import { decodeSmallPng, SMALL_PNG_PIXELS } from '../../src/image/png.js';

const data = await loadMnist();
const digit = (i: number) =>
  sharp(Buffer.from(data.test.images.subarray(i * PIXELS, (i + 1) * PIXELS)), {
    raw: { width: 28, height: 28, channels: 1 },
  });

async function sharpPixels(png: Buffer) {
  const { data: pixels, info } = await sharp(png).raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  return { pixels: new Uint8Array(pixels), width: info.width, height: info.height, channels: info.channels };
}

/** A PNG chunk: length, type, data, CRC. */
function chunk(type: string, body: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(body.length);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(Buffer.concat([head.subarray(4), body])));
  return Buffer.concat([head, body, crc]);
}

/** An 8-bit PNG with every row filtered by `filterOf(y)` (0-4): sharp's encoder picks its own filters, this one forces each. */
function pngWithFilters(
  pixels: Uint8Array,
  width: number,
  height: number,
  channels: 1 | 2 | 3 | 4,
  filterOf: (y: number) => number,
): Buffer {
  const stride = width * channels;
  const rows = Buffer.alloc(height * (stride + 1));
  for (let y = 0; y < height; y++) {
    const filter = filterOf(y);
    rows[y * (stride + 1)] = filter;
    for (let x = 0; x < stride; x++) {
      const at = (yy: number, xx: number) => (yy < 0 || xx < 0 ? 0 : pixels[yy * stride + xx]);
      const [a, b, c] = [at(y, x - channels), at(y - 1, x), at(y - 1, x - channels)];
      const p = a + b - c;
      const paeth =
        Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c)
          ? a
          : Math.abs(p - b) <= Math.abs(p - c)
            ? b
            : c;
      const predictor = [0, a, b, (a + b) >> 1, paeth][filter];
      rows[y * (stride + 1) + 1 + x] = (pixels[y * stride + x] - predictor) & 0xff;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = { 1: 0, 2: 4, 3: 2, 4: 6 }[channels];
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([
    signature,
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(rows)),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

test("small PNGs from sharp decode to exactly sharp's bytes: grey, RGB, grey + alpha, RGBA (grey comes out as RGB, as sharp gives it), every filter choice", async () => {
  let checked = 0;
  const colourTypes = new Set<number>();
  for (let i = 0; i < 40; i++) {
    const variants = [
      digit(i).png(),
      digit(i).png({ adaptiveFiltering: true, compressionLevel: 9 }),
      digit(i).png({ compressionLevel: 0 }),
      digit(i).toColourspace('b-w').png(),
      digit(i).ensureAlpha(0.5).toColourspace('b-w').png({ adaptiveFiltering: true }),
      digit(i).toColourspace('srgb').png(),
      digit(i).ensureAlpha(0.5).png(),
      digit(i).toColourspace('srgb').ensureAlpha(0.25).png({ adaptiveFiltering: true }),
      digit(i).resize(100, 100).png({ adaptiveFiltering: true }),
    ];
    for (const variant of variants) {
      const png = await variant.toBuffer();
      colourTypes.add(png[25]);
      const ours = decodeSmallPng(png);
      assert.ok(ours, `digit ${i}: decoded here`);
      const theirs = await sharpPixels(png);
      assert.deepEqual(
        { pixels: new Uint8Array(ours.data), width: ours.width, height: ours.height, channels: ours.channels },
        theirs,
      );
      checked++;
    }
  }
  assert.equal(checked, 360);
  assert.deepEqual([...colourTypes].sort(), [0, 2, 4, 6], 'IHDR colour types: grey, RGB, grey + alpha, RGBA');
});

test('each of the five row filters (none, sub, up, average, Paeth) decodes to the pixels, for 1 to 4 channels', async () => {
  for (const channels of [1, 2, 3, 4] as const) {
    const width = 23;
    const height = 17;
    const pixels = Uint8Array.from({ length: width * height * channels }, (_, i) => (i * 73 + (i >> 3) * 151) & 0xff);
    const png = pngWithFilters(pixels, width, height, channels, (y) => y % 5);
    const ours = decodeSmallPng(png);
    assert.ok(ours);
    const colour = channels < 3 ? channels + 2 : channels;
    const expected = new Uint8Array(width * height * colour);
    for (let i = 0; i < width * height; i++) {
      for (let c = 0; c < colour; c++)
        expected[i * colour + c] = pixels[i * channels + (channels < 3 ? (c < 3 ? 0 : 1) : c)];
    }
    assert.deepEqual(new Uint8Array(ours.data), expected, `${channels} channels in the file`);
    assert.deepEqual(new Uint8Array(ours.data), (await sharpPixels(png)).pixels, `${channels} channels: sharp agrees`);
  }
});

test('anything but a small plain PNG is left to sharp: large, palette, 16-bit, interlaced, transparency chunk, EXIF, bad CRC, cut off', async () => {
  const side = Math.ceil(Math.sqrt(SMALL_PNG_PIXELS)) + 1;
  const leftToSharp: [string, Buffer][] = [
    ['larger than SMALL_PNG_PIXELS', await digit(0).resize(side, side).png().toBuffer()],
    ['a palette', await digit(0).png({ palette: true }).toBuffer()],
    ['16-bit', await digit(0).toColourspace('grey16').png().toBuffer()],
    ['interlaced', await digit(0).png({ progressive: true }).toBuffer()],
    [
      'with EXIF',
      await digit(0)
        .withExif({ IFD0: { Orientation: '6' } })
        .png()
        .toBuffer(),
    ],
  ];
  const plain = await digit(0).png().toBuffer();
  const badCrc = Buffer.from(plain);
  badCrc[plain.length - 20] ^= 0xff;
  leftToSharp.push(
    ['a bad CRC or bytes changed', badCrc],
    ['cut off', plain.subarray(0, plain.length - 16)],
    ['not a PNG', Buffer.from('GIF89a and more bytes than a header needs')],
  );
  const pixels = new Uint8Array(28 * 28 * 3).fill(9);
  const withTrns = pngWithFilters(pixels, 28, 28, 3, () => 0);
  const trns = chunk('tRNS', new Uint8Array([0, 9, 0, 9, 0, 9]));
  leftToSharp.push([
    'a tRNS (transparent colour) chunk',
    Buffer.concat([withTrns.subarray(0, 33), trns, withTrns.subarray(33)]),
  ]);
  for (const [what, png] of leftToSharp) assert.equal(decodeSmallPng(png), undefined, what);
});

test('decodeImage reads a 28x28 PNG digit to the same pixels as before, and still refuses a broken one', async () => {
  const png = await digit(3).png().toBuffer();
  const image = await decodeImage(png, 'digit.png');
  assert.deepEqual(new Uint8Array(image.data), (await sharpPixels(png)).pixels);
  const broken = Buffer.from(png);
  broken[40] ^= 0xff;
  await assert.rejects(decodeImage(broken, 'broken.png'), /broken\.png/);
});

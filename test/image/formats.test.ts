import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { encodeBmp24 } from '../../src/image/bmp.js';
import { formatList, formatOfMediaType, readImageSize, sniffImageFormat } from '../../src/image/formats.js';
import { UserError } from '../../src/util/errors.js';
import { SVG_BOMB } from '../serve/fixtures/bombs.js';

test('the format comes from the magic bytes of each format, whatever the file is called', async () => {
  const source = () => sharp({ create: { width: 8, height: 8, channels: 3, background: '#808080' } });
  const files = {
    png: await source().png().toBuffer(),
    jpeg: await source().jpeg().toBuffer(),
    webp: await source().webp().toBuffer(),
    gif: await source().gif().toBuffer(),
    tiff: await source().tiff().toBuffer(),
    heif: await source().avif().toBuffer(),
  };
  for (const [format, bytes] of Object.entries(files)) assert.equal(sniffImageFormat(new Uint8Array(bytes)), format);
  assert.equal(sniffImageFormat(encodeBmp24({ data: new Uint8Array(12), width: 2, height: 2, channels: 3 })), 'bmp');
  const text = (s: string) => new TextEncoder().encode(s);
  assert.equal(sniffImageFormat(text(SVG_BOMB)), 'svg');
  assert.equal(
    sniffImageFormat(text(`\uFEFF  <?xml version="1.0"?>\n<!-- a drawing -->\n<svg width="1" height="1"/>`)),
    'svg',
  );
  for (const other of [
    '',
    'hello',
    '{"pixels": []}',
    '<html><body>no</body></html>',
    '\x1f\x8b\x08 gzip',
    'RIFF\0\0\0\0WAVE',
  ])
    assert.equal(sniffImageFormat(text(other)), undefined, JSON.stringify(other));
  assert.equal(sniffImageFormat(files.png.subarray(0, 7)), undefined, 'a cut signature is nothing');
});

test('media types name formats (parameters and case ignored); lists read as English', () => {
  assert.equal(formatOfMediaType('image/PNG; charset=binary'), 'png');
  assert.equal(formatOfMediaType('image/jpg'), 'jpeg');
  assert.equal(formatOfMediaType('image/x-ms-bmp'), 'bmp');
  assert.equal(formatOfMediaType('image/svg+xml'), 'svg');
  assert.equal(formatOfMediaType('application/octet-stream'), undefined);
  assert.equal(formatOfMediaType(undefined), undefined);
  assert.equal(formatList(['png']), 'PNG');
  assert.equal(formatList(['png', 'jpeg', 'webp', 'bmp']), 'PNG, JPEG, WebP or BMP');
});

test('our header reader agrees with libvips on the size of PNG, JPEG (baseline, progressive), WebP (lossy, lossless, extended), GIF and BMP files', async () => {
  const make = (width: number, height: number, channels: 3 | 4 = 3) =>
    sharp({ create: { width, height, channels, background: { r: 90, g: 120, b: 200, alpha: 0.5 } } });
  const files: [string, Buffer][] = [
    ['png', await make(301, 17).png().toBuffer()],
    ['jpeg', await make(333, 222).jpeg().toBuffer()],
    ['jpeg', await make(640, 480).jpeg({ progressive: true }).toBuffer()],
    [
      'jpeg',
      await make(64, 48)
        .withExif({ IFD0: { Copyright: 'x'.repeat(300) } })
        .jpeg()
        .toBuffer(),
    ],
    ['webp', await make(123, 45).webp({ quality: 60 }).toBuffer()],
    ['webp', await make(123, 45).webp({ lossless: true }).toBuffer()],
    ['webp', await make(99, 77, 4).webp({ quality: 60 }).toBuffer()],
    ['gif', await make(50, 40).gif().toBuffer()],
  ];
  for (const [format, bytes] of files) {
    const { width, height } = await sharp(bytes).metadata();
    assert.deepEqual(
      readImageSize(new Uint8Array(bytes), format as 'png'),
      { width, height },
      `${format} ${width}x${height}`,
    );
  }
  assert.deepEqual(
    readImageSize(encodeBmp24({ data: new Uint8Array(5 * 3 * 3), width: 5, height: 3, channels: 3 }), 'bmp'),
    { width: 5, height: 3 },
  );
  // Cut inside its size fields: the file's error, naming it; a format it leaves to libvips, or a
  // JPEG with no frame header before its end: no answer rather than a wrong one.
  assert.throws(
    () => readImageSize(new Uint8Array(files[0][1].subarray(0, 20)), 'png', 'cut.png'),
    (err: Error) =>
      err instanceof UserError &&
      err.message === 'cut.png: is cut short or damaged: its PNG height needs 24 bytes, the file has 20',
  );
  assert.equal(readImageSize(new Uint8Array([0xff, 0xd8, 0xff, 0xd9]), 'jpeg'), undefined);
  assert.equal(readImageSize(new Uint8Array(await make(8, 8).tiff().toBuffer()), 'tiff'), undefined);
});

/**
 * Every header reader of image/ (formats.ts, bmp.ts, png.ts, and decodeImage over them) on real
 * headers cut short and mutated (fast-check, test/serve/fixtures/headers.ts): each answers, or
 * refuses with a user's error naming the file, never a RangeError (issue #24: a 30-byte WebP
 * read past its end, a 500 and exit 70).
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeBmp, readBmpSize } from '../../src/image/bmp.js';
import { decodeImage, ImageError } from '../../src/image/decode.js';
import { readImageSize, sniffImageFormat, type ImageFormat } from '../../src/image/formats.js';
import { HeaderReader } from '../../src/image/header-reader.js';
import { decodeSmallPng } from '../../src/image/png.js';
import { UserError } from '../../src/util/errors.js';
import { thirtyByteWebp } from '../serve/fixtures/bombs.js';
import { headerFiles, mutatedHeaders, type HeaderFile } from '../serve/fixtures/headers.js';

let files: HeaderFile[];
before(async () => {
  files = await headerFiles();
});

const NAME = 'fuzzed.bin';

/** `read` answers, or throws a UserError naming the file; anything else fails with what was fed. */
function answersOrRefuses(what: string, read: () => unknown): void {
  try {
    read();
  } catch (err) {
    assert.ok(err instanceof UserError, `${what}: ${(err as Error).name}: ${(err as Error).message}`);
    assert.ok(err.message.startsWith(`${NAME}: `), `${what}: the message names the file: ${err.message}`);
  }
}

test('a field read past the end is a UserError naming the file and the field; reads within the file answer', () => {
  const r = new HeaderReader(new Uint8Array([1, 2, 3, 4, 5]), 'x.png', 'PNG');
  assert.equal(r.u8(4, 'last'), 5);
  assert.equal(r.u32be(1, 'four'), 0x02030405);
  assert.equal(r.u24le(2, 'three'), 0x050403);
  assert.equal(r.has(2, 3), true);
  assert.equal(r.has(3, 3), false);
  assert.throws(
    () => r.u32le(2, 'canvas height'),
    (err: Error) =>
      err instanceof UserError &&
      err.message === 'x.png: is cut short or damaged: its PNG canvas height needs 6 bytes, the file has 5',
  );
  assert.throws(
    () => r.u8(-1, 'before'),
    (err: Error) => err instanceof UserError && /its PNG before is at offset -1/.test(err.message),
  );
  assert.throws(() => r.u16le(Number.NaN, 'nothing'), UserError);
  assert.throws(() => r.slice(4, 2, 'chunk'), UserError);
});

test('the 30-byte WebP of issue #24 is read as what it says (28x28), and decoding it is a bad image naming the file, not a RangeError', async () => {
  const webp = thirtyByteWebp();
  assert.equal(sniffImageFormat(webp), 'webp');
  assert.deepEqual(readImageSize(webp, 'webp', 'w.webp'), { width: 28, height: 28 });
  // One byte fewer: its canvas height is cut.
  assert.throws(
    () => readImageSize(webp.subarray(0, 29), 'webp', 'w.webp'),
    (err: Error) =>
      err instanceof UserError &&
      /^w\.webp: is cut short or damaged: its WebP canvas height needs 30 bytes, the file has 29$/.test(err.message),
  );
  for (const bytes of [webp, webp.subarray(0, 29), webp.subarray(0, 20)]) {
    await assert.rejects(
      decodeImage(bytes, 'w.webp'),
      (err: Error) => err instanceof ImageError && err.problem === 'corrupt' && err.message.startsWith('w.webp: '),
    );
  }
});

test('fuzz: real headers of every format, cut and mutated, give each header reader an answer or a user error naming the file, never a RangeError', () => {
  fc.assert(
    fc.property(mutatedHeaders(files), ({ what, bytes }) => {
      const format = sniffImageFormat(bytes);
      for (const each of ['png', 'jpeg', 'webp', 'bmp', 'gif'] as ImageFormat[])
        answersOrRefuses(`${what} as ${each}`, () => readImageSize(bytes, each, NAME));
      answersOrRefuses(`${what} readBmpSize`, () => readBmpSize(bytes, NAME));
      answersOrRefuses(`${what} decodeBmp`, () => decodeBmp(bytes, NAME));
      answersOrRefuses(`${what} decodeSmallPng`, () => decodeSmallPng(bytes, NAME));
      return format === undefined || typeof format === 'string';
    }),
    { numRuns: 3000, seed: 2424 },
  );
});

test('fuzz: the same through decodeImage (sharp included): a picture or an ImageError naming the file', async () => {
  await fc.assert(
    fc.asyncProperty(mutatedHeaders(files), async ({ what, bytes }) => {
      try {
        const image = await decodeImage(bytes, NAME, { formats: ['png', 'jpeg', 'webp', 'bmp'] });
        assert.ok(image.width > 0 && image.height > 0, what);
      } catch (err) {
        assert.ok(err instanceof ImageError, `${what}: ${(err as Error).name}: ${(err as Error).message}`);
        assert.ok(err.message.startsWith(`${NAME}: `), `${what}: ${err.message}`);
      }
    }),
    { numRuns: 300, seed: 2425 },
  );
});

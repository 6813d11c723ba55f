import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import zlib from 'node:zlib';
import fc from 'fast-check';
import { adler32, crc32, sha256Hex } from '../../src/util/digests.js';

test('SHA-256 in plain TypeScript equals node:crypto for every length around the block edges, and for random bytes', () => {
  for (const n of [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000, 70_000]) {
    const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 31 + 7) & 255);
    assert.equal(sha256Hex(bytes), createHash('sha256').update(bytes).digest('hex'), `${n} bytes`);
  }
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 300 }),
      (bytes) => sha256Hex(bytes) === createHash('sha256').update(bytes).digest('hex'),
    ),
  );
  assert.equal(
    sha256Hex(new TextEncoder().encode('abc')),
    'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
  );
});

test("CRC-32 and Adler-32 equal zlib's", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 5000 }), (bytes) => {
      // A zlib stream ends with the Adler-32 of its data, a gzip file with the CRC-32.
      const stream = zlib.deflateSync(bytes, { level: 0 });
      const gzip = zlib.gzipSync(bytes, { level: 0 });
      return (
        crc32(bytes) === gzip.readUInt32LE(gzip.length - 8) && adler32(bytes) === stream.readUInt32BE(stream.length - 4)
      );
    }),
  );
  assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
});

/**
 * Writing a gray picture (a 28x28 digit) as a PNG file in plain TypeScript, so that the page, the
 * server and the CLI write the very same bytes for the same pixels (a correction's file name is
 * the hash of those bytes: data/correction-files.ts). The deflate stream is made of stored blocks, not
 * compressed: a 28x28 digit is under 900 bytes either way, and no compressor needs bundling.
 * Every PNG reader (sharp, browsers, our own image/png.ts) reads it.
 */
import { adler32, crc32 } from '../util/digests.js';

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
/** Largest stored deflate block (RFC 1951: LEN is 16 bits). */
const MAX_STORED = 0xffff;

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** A zlib stream (RFC 1950) of stored deflate blocks holding `raw`. */
function storedZlib(raw: Uint8Array): Uint8Array {
  const blocks = Math.max(1, Math.ceil(raw.length / MAX_STORED));
  const out = new Uint8Array(2 + raw.length + 5 * blocks + 4);
  const view = new DataView(out.buffer);
  // CMF 0x78 (deflate, 32 KiB window), FLG 0x01 (no dictionary, fastest; 0x7801 % 31 === 0).
  out[0] = 0x78;
  out[1] = 0x01;
  let at = 2;
  for (let b = 0; b < blocks; b++) {
    const part = raw.subarray(b * MAX_STORED, Math.min(raw.length, (b + 1) * MAX_STORED));
    out[at] = b === blocks - 1 ? 1 : 0;
    view.setUint16(at + 1, part.length, true);
    view.setUint16(at + 3, ~part.length & 0xffff, true);
    out.set(part, at + 5);
    at += 5 + part.length;
  }
  view.setUint32(at, adler32(raw));
  return out;
}

/** 8-bit gray pixels, row by row (`width` x `height`), as the bytes of a PNG file. */
export function encodeGrayPng(pixels: Uint8Array, width: number, height: number): Uint8Array {
  if (
    !(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0) ||
    pixels.length !== width * height
  ) {
    throw new RangeError(`${pixels.length} pixels are not a ${width}x${height} picture`);
  }
  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  header.set([8, 0, 0, 0, 0], 8); // 8 bits, gray, deflate, filter method 0, not interlaced
  // Each row after its filter byte (0: none).
  const raw = new Uint8Array((width + 1) * height);
  for (let y = 0; y < height; y++) raw.set(pixels.subarray(y * width, (y + 1) * width), y * (width + 1) + 1);
  const parts = [
    Uint8Array.from(SIGNATURE),
    chunk('IHDR', header),
    chunk('IDAT', storedZlib(raw)),
    chunk('IEND', new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

import zlib from 'node:zlib';
import type { RawImage } from './preprocess.js';
import { HeaderReader } from './header-reader.js';

/**
 * Our own decoder for the PNGs that the server gets most (a 28x28 digit, a small drawing): the
 * plainest kind only, which sharp would decode to exactly the same bytes. Anything else (another
 * bit depth, a palette, interlacing, transparency or colour chunks, EXIF, a bad CRC, more than
 * SMALL_PNG_PIXELS) is `undefined`, and decode.ts hands it to sharp as before. Like sharp's, the
 * result has 3 or 4 channels: a grey file comes out as RGB, grey + alpha as RGBA.
 *
 * Why: sharp's per-call cost (a libvips pipeline, a hop to the thread pool and back, twice with
 * the header read) was more than half of a 28x28 PNG's request, against a small fraction of that
 * here (the server's CPU per request: `npm run bench -- --only http`). Pixel values are the
 * file's own: PNG is lossless, and test/image/png.test.ts checks every decoded byte against sharp's.
 */

/** Largest picture decoded here, width x height (128x128); larger goes to sharp, off the main thread. */
export const SMALL_PNG_PIXELS = 128 * 128;

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
/** Channels of each colour type read here: grey, RGB, grey + alpha, RGBA (8 bits each). */
const CHANNELS: Record<number, RawImage['channels']> = { 0: 1, 2: 3, 4: 2, 6: 4 };
/** Chunks that change no pixel value that sharp gives (text, time, pixel size); any other ancillary chunk goes to sharp. */
const IGNORED_CHUNKS = new Set(['tEXt', 'zTXt', 'iTXt', 'tIME', 'pHYs']);

const crc32: ((data: Uint8Array) => number) | undefined = (zlib as { crc32?: (data: Uint8Array) => number }).crc32;

/**
 * A small, plain PNG's pixels, or undefined for sharp to decode (or refuse). Chunk lengths come
 * from the file: every field is read through HeaderReader, within the file.
 */
export function decodeSmallPng(bytes: Uint8Array, name = 'the image'): RawImage | undefined {
  if (!crc32 || bytes.length < 8 + 25 || SIGNATURE.some((b, i) => bytes[i] !== b)) return undefined;
  const r = new HeaderReader(bytes, name, 'PNG');
  let width = 0;
  let height = 0;
  let channels: RawImage['channels'] | undefined;
  const idat: Uint8Array[] = [];
  let ended = false;
  for (let at = 8; r.has(at, 12) && !ended;) {
    const length = r.u32be(at, 'chunk length');
    const end = at + 12 + length;
    if (end > bytes.length) return undefined;
    const type = r.ascii(at + 4, 4, 'chunk type');
    if (crc32(r.slice(at + 4, 4 + length, 'chunk')) !== r.u32be(at + 8 + length, 'chunk CRC')) return undefined;
    const data = r.slice(at + 8, length, 'chunk data');
    if (at === 8) {
      // IHDR first: 8-bit, a colour type above, compression and filter method 0, not interlaced.
      if (type !== 'IHDR' || length !== 13) return undefined;
      width = r.u32be(at + 8, 'width');
      height = r.u32be(at + 12, 'height');
      channels = CHANNELS[data[9]];
      if (data[8] !== 8 || !channels || data[10] !== 0 || data[11] !== 0 || data[12] !== 0) return undefined;
      if (width < 1 || height < 1 || width * height > SMALL_PNG_PIXELS) return undefined;
    } else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') ended = true;
    else if (!IGNORED_CHUNKS.has(type)) return undefined;
    at = end;
  }
  if (!ended || !channels || idat.length === 0) return undefined;
  const stride = width * channels;
  const expected = height * (stride + 1);
  let filtered: Buffer;
  try {
    filtered = zlib.inflateSync(idat.length === 1 ? idat[0] : Buffer.concat(idat), { maxOutputLength: expected + 1 });
  } catch {
    return undefined;
  }
  if (filtered.length !== expected) return undefined;
  const out = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    if (!unfilterRow(filtered, y * (stride + 1), out, y * stride, stride, channels, y > 0)) return undefined;
  }
  if (channels === 3 || channels === 4) return { data: out, width, height, channels };
  // Grey (+ alpha) comes out of sharp as RGB (+ alpha), the grey level in each colour: the same here.
  const colour = channels === 1 ? 3 : 4;
  const wide = new Uint8Array(width * height * colour);
  for (let i = 0, o = 0; i < out.length; i += channels, o += colour) {
    wide[o] = wide[o + 1] = wide[o + 2] = out[i];
    if (colour === 4) wide[o + 3] = out[i + 1];
  }
  return { data: wide, width, height, channels: colour };
}

/**
 * Undo one row's filter (PNG spec §9): `out[row..row+stride)` from the filtered bytes after the
 * filter byte at `from`, with the row above (`hasUp`) already in `out`. false: an unknown filter.
 * One loop per filter type, with the left edge (no left neighbour) apart: the same bytes as
 * one loop that asks for each byte which filter applies and whether it has neighbours: a
 * 28x28 grey PNG decodes in about two thirds of the time.
 */
function unfilterRow(
  filtered: Uint8Array,
  from: number,
  out: Uint8Array,
  row: number,
  stride: number,
  channels: number,
  hasUp: boolean,
): boolean {
  const filter = filtered[from];
  const src = from + 1;
  const up = row - stride;
  const edge = Math.min(channels, stride);
  switch (filter) {
    case 0:
      for (let x = 0; x < stride; x++) out[row + x] = filtered[src + x];
      return true;
    case 1:
      for (let x = 0; x < edge; x++) out[row + x] = filtered[src + x];
      for (let x = edge; x < stride; x++) out[row + x] = (filtered[src + x] + out[row + x - channels]) & 0xff;
      return true;
    case 2:
      if (!hasUp) for (let x = 0; x < stride; x++) out[row + x] = filtered[src + x];
      else for (let x = 0; x < stride; x++) out[row + x] = (filtered[src + x] + out[up + x]) & 0xff;
      return true;
    case 3:
      if (!hasUp) {
        for (let x = 0; x < edge; x++) out[row + x] = filtered[src + x];
        for (let x = edge; x < stride; x++) out[row + x] = (filtered[src + x] + (out[row + x - channels] >> 1)) & 0xff;
      } else {
        for (let x = 0; x < edge; x++) out[row + x] = (filtered[src + x] + (out[up + x] >> 1)) & 0xff;
        for (let x = edge; x < stride; x++)
          out[row + x] = (filtered[src + x] + ((out[row + x - channels] + out[up + x]) >> 1)) & 0xff;
      }
      return true;
    case 4:
      // Paeth with no row above predicts from the left (b = c = 0); with no left, from above (a = c = 0).
      if (!hasUp) {
        for (let x = 0; x < edge; x++) out[row + x] = filtered[src + x];
        for (let x = edge; x < stride; x++) out[row + x] = (filtered[src + x] + out[row + x - channels]) & 0xff;
      } else {
        for (let x = 0; x < edge; x++) out[row + x] = (filtered[src + x] + out[up + x]) & 0xff;
        for (let x = edge; x < stride; x++) {
          const a = out[row + x - channels];
          const b = out[up + x];
          const c = out[up + x - channels];
          const p = a + b - c;
          const pa = Math.abs(p - a);
          const pb = Math.abs(p - b);
          const pc = Math.abs(p - c);
          out[row + x] = (filtered[src + x] + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c)) & 0xff;
        }
      }
      return true;
    default:
      return false;
  }
}

/**
 * A decoder for the BMP files people actually have (Windows Paint, screenshots): uncompressed
 * 1/4/8-bit palette, 24-bit and 32-bit (BI_RGB or BI_BITFIELDS), bottom-up or top-down.
 * libvips (sharp) cannot read BMP without ImageMagick. Pure TypeScript.
 */
import type { RawImage } from './preprocess.js';
import { UserError } from '../util/errors.js';
import { HeaderReader } from './header-reader.js';

const BI_RGB = 0;
const BI_BITFIELDS = 3;
const BI_ALPHABITFIELDS = 6;

/** Width and height from a BMP header, without reading its pixels (for the pixel limit). */
export function readBmpSize(bytes: Uint8Array, name: string): { width: number; height: number } {
  const r = new HeaderReader(bytes, name, 'BMP');
  const width = r.i32le(18, 'width');
  const height = Math.abs(r.i32le(22, 'height'));
  if (width <= 0 || height === 0)
    throw new UserError(`${name}: BMP size ${width}x${height} is not a usable image size`, name);
  return { width, height };
}

/** The facts of a BMP header that decoding needs, every one read within the file and checked. */
interface BmpLayout {
  width: number;
  height: number;
  topDown: boolean;
  bitCount: number;
  dataOffset: number;
  rowBytes: number;
  masks: Masks | null;
  /** RGB triples of a 1, 4 or 8-bit file (256 entries, unused ones black). */
  palette: Uint8Array | null;
}

/** Read and check a BMP's header: a UserError naming the file for anything cut short or not supported. */
function readBmpLayout(bytes: Uint8Array, name: string): BmpLayout {
  const fail = (problem: string): never => {
    throw new UserError(`${name}: ${problem}`, name);
  };
  const r = new HeaderReader(bytes, name, 'BMP');
  const dataOffset = r.u32le(10, 'pixel data offset');
  const headerSize = r.u32le(14, 'header size');
  if (headerSize < 40) fail(`BMP header of ${headerSize} bytes (OS/2 bitmap) is not supported; save it as PNG`);
  r.need(14, headerSize, 'header');
  const width = r.i32le(18, 'width');
  const rawHeight = r.i32le(22, 'height');
  const bitCount = r.u16le(28, 'bits per pixel');
  const compression = r.u32le(30, 'compression');
  const height = Math.abs(rawHeight);
  if (width <= 0 || height === 0 || width * height > 100_000_000)
    fail(`BMP size ${width}x${height} is not a usable image size`);
  const masks = readMasks(r, headerSize, bitCount, compression);
  if (compression !== BI_RGB && !masks)
    fail(`BMP compression ${compression} (RLE or embedded JPEG/PNG) is not supported; save it as PNG`);
  if (![1, 4, 8, 24, 32].includes(bitCount))
    fail(`BMP with ${bitCount} bits per pixel is not supported; save it as PNG`);
  const palette = bitCount <= 8 ? readPalette(r, headerSize, bitCount) : null;
  const rowBytes = Math.ceil((width * bitCount) / 32) * 4;
  // The pixel rows, all of them in the file: the loop of decodeBmp reads nothing outside it.
  if (dataOffset + rowBytes * height > bytes.length) {
    fail(`is truncated: the pixel data needs ${dataOffset + rowBytes * height} bytes, the file has ${bytes.length}`);
  }
  return { width, height, topDown: rawHeight < 0, bitCount, dataOffset, rowBytes, masks, palette };
}

export function decodeBmp(bytes: Uint8Array, name: string): RawImage {
  const { width, height, topDown, bitCount, dataOffset, rowBytes, masks, palette } = readBmpLayout(bytes, name);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hasAlpha = bitCount === 32 && masks !== null && masks.a !== 0;
  const channels = hasAlpha ? 4 : 3;
  const out = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    const row = dataOffset + (topDown ? y : height - 1 - y) * rowBytes;
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * channels;
      if (palette) {
        const p = paletteIndex(bytes, row, x, bitCount) * 3;
        out[o] = palette[p];
        out[o + 1] = palette[p + 1];
        out[o + 2] = palette[p + 2];
      } else if (bitCount === 24 || !masks) {
        const p = row + x * (bitCount / 8);
        out[o] = bytes[p + 2];
        out[o + 1] = bytes[p + 1];
        out[o + 2] = bytes[p];
      } else {
        const v = view.getUint32(row + x * 4, true);
        out[o] = channelOf(v, masks.r);
        out[o + 1] = channelOf(v, masks.g);
        out[o + 2] = channelOf(v, masks.b);
        if (hasAlpha) out[o + 3] = channelOf(v, masks.a);
      }
    }
  }
  return { data: out, width, height, channels };
}

interface Masks {
  r: number;
  g: number;
  b: number;
  a: number;
}

function readMasks(r: HeaderReader, headerSize: number, bitCount: number, compression: number): Masks | null {
  if (bitCount !== 32) return null;
  if (compression === BI_RGB) return { r: 0x00ff0000, g: 0x0000ff00, b: 0x000000ff, a: 0 };
  if (compression !== BI_BITFIELDS && compression !== BI_ALPHABITFIELDS) return null;
  // Masks follow a 40-byte header, or sit inside a V4/V5 header.
  const at = 14 + 40;
  const withAlpha = headerSize >= 56 || compression === BI_ALPHABITFIELDS;
  return {
    r: r.u32le(at, 'red mask'),
    g: r.u32le(at + 4, 'green mask'),
    b: r.u32le(at + 8, 'blue mask'),
    a: withAlpha && r.has(at + 12, 4) ? r.u32le(at + 12, 'alpha mask') : 0,
  };
}

function channelOf(value: number, mask: number): number {
  if (mask === 0) return 0;
  let shift = 0;
  while (((mask >>> shift) & 1) === 0) shift++;
  const max = mask >>> shift;
  return Math.round((((value & mask) >>> shift) * 255) / max);
}

/** The colour table: as many entries as declared (or 2^bits), at most 256, as far as the file holds them. */
function readPalette(r: HeaderReader, headerSize: number, bitCount: number): Uint8Array {
  const declared = r.u32le(46, 'palette size');
  const count = Math.min(256, declared || 1 << bitCount);
  const palette = new Uint8Array(256 * 3);
  const at = 14 + headerSize;
  for (let i = 0; i < count && r.has(at + i * 4, 3); i++) {
    palette[i * 3] = r.u8(at + i * 4 + 2, 'palette');
    palette[i * 3 + 1] = r.u8(at + i * 4 + 1, 'palette');
    palette[i * 3 + 2] = r.u8(at + i * 4, 'palette');
  }
  return palette;
}

function paletteIndex(bytes: Uint8Array, row: number, x: number, bitCount: number): number {
  if (bitCount === 8) return bytes[row + x];
  const perByte = 8 / bitCount;
  const byte = bytes[row + Math.floor(x / perByte)];
  const shift = 8 - bitCount * ((x % perByte) + 1);
  return (byte >> shift) & ((1 << bitCount) - 1);
}

/** Encode an uncompressed 24-bit BMP (tests, and `--explain` never needs it). */
export function encodeBmp24(image: RawImage): Uint8Array {
  const { width, height, channels, data } = image;
  const rowBytes = Math.ceil((width * 24) / 32) * 4;
  const out = new Uint8Array(54 + rowBytes * height);
  const view = new DataView(out.buffer);
  out[0] = 0x42;
  out[1] = 0x4d;
  view.setUint32(2, out.length, true);
  view.setUint32(10, 54, true);
  view.setUint32(14, 40, true);
  view.setInt32(18, width, true);
  view.setInt32(22, height, true);
  view.setUint16(26, 1, true);
  view.setUint16(28, 24, true);
  view.setUint32(34, rowBytes * height, true);
  for (let y = 0; y < height; y++) {
    const row = 54 + (height - 1 - y) * rowBytes;
    for (let x = 0; x < width; x++) {
      const p = (y * width + x) * channels;
      const [r, g, b] = channels >= 3 ? [data[p], data[p + 1], data[p + 2]] : [data[p], data[p], data[p]];
      out[row + x * 3] = b;
      out[row + x * 3 + 1] = g;
      out[row + x * 3 + 2] = r;
    }
  }
  return out;
}

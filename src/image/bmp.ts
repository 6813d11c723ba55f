/**
 * A decoder for the BMP files people actually have (Windows Paint, screenshots): uncompressed
 * 1/4/8-bit palette, 24-bit and 32-bit (BI_RGB or BI_BITFIELDS), bottom-up or top-down.
 * libvips (sharp) cannot read BMP without ImageMagick. Pure TypeScript.
 */
import type { RawImage } from './preprocess.js';
import { UserError } from '../util/errors.js';

const BI_RGB = 0;
const BI_BITFIELDS = 3;
const BI_ALPHABITFIELDS = 6;

/** Width and height from a BMP header, without reading its pixels (for the pixel limit). */
export function readBmpSize(bytes: Uint8Array, name: string): { width: number; height: number } {
  if (bytes.length < 26) throw new UserError(`${name}: is ${bytes.length} bytes long, too short for a BMP header`, name);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const width = view.getInt32(18, true);
  const height = Math.abs(view.getInt32(22, true));
  if (width <= 0 || height === 0) throw new UserError(`${name}: BMP size ${width}x${height} is not a usable image size`, name);
  return { width, height };
}

export function decodeBmp(bytes: Uint8Array, name: string): RawImage {
  const fail = (problem: string): never => {
    throw new UserError(`${name}: ${problem}`, name);
  };
  if (bytes.length < 26) fail(`is ${bytes.length} bytes long, too short for a BMP header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dataOffset = view.getUint32(10, true);
  const headerSize = view.getUint32(14, true);
  if (headerSize < 40) fail(`BMP header of ${headerSize} bytes (OS/2 bitmap) is not supported; save it as PNG`);
  if (bytes.length < 14 + headerSize) fail('is truncated inside the BMP header');
  const width = view.getInt32(18, true);
  const rawHeight = view.getInt32(22, true);
  const bitCount = view.getUint16(28, true);
  const compression = view.getUint32(30, true);
  const topDown = rawHeight < 0;
  const height = Math.abs(rawHeight);
  if (width <= 0 || height === 0 || width * height > 100_000_000) fail(`BMP size ${width}x${height} is not a usable image size`);
  const masks = readMasks(view, headerSize, bitCount, compression, fail);
  if (compression !== BI_RGB && !masks) fail(`BMP compression ${compression} (RLE or embedded JPEG/PNG) is not supported; save it as PNG`);
  if (![1, 4, 8, 24, 32].includes(bitCount)) fail(`BMP with ${bitCount} bits per pixel is not supported; save it as PNG`);
  const palette = bitCount <= 8 ? readPalette(bytes, view, headerSize, bitCount) : null;
  const rowBytes = Math.ceil((width * bitCount) / 32) * 4;
  if (dataOffset + rowBytes * height > bytes.length) {
    fail(`is truncated: the pixel data needs ${dataOffset + rowBytes * height} bytes, the file has ${bytes.length}`);
  }
  const hasAlpha = bitCount === 32 && masks !== null && masks.a !== 0;
  const channels = hasAlpha ? 4 : 3;
  const out = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    const row = dataOffset + (topDown ? y : height - 1 - y) * rowBytes;
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * channels;
      if (palette) {
        const index = paletteIndex(bytes, row, x, bitCount);
        out.set(palette.subarray(index * 3, index * 3 + 3), o);
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

function readMasks(view: DataView, headerSize: number, bitCount: number, compression: number, fail: (p: string) => never): Masks | null {
  if (bitCount !== 32) return null;
  if (compression === BI_RGB) return { r: 0x00ff0000, g: 0x0000ff00, b: 0x000000ff, a: 0 };
  if (compression !== BI_BITFIELDS && compression !== BI_ALPHABITFIELDS) return null;
  // Masks follow a 40-byte header, or sit inside a V4/V5 header.
  if (view.byteLength < 14 + 40 + 12) fail('is truncated inside the BMP colour masks');
  const at = 14 + 40;
  const withAlpha = headerSize >= 56 || compression === BI_ALPHABITFIELDS;
  return {
    r: view.getUint32(at, true),
    g: view.getUint32(at + 4, true),
    b: view.getUint32(at + 8, true),
    a: withAlpha && view.byteLength >= at + 16 ? view.getUint32(at + 12, true) : 0,
  };
}

function channelOf(value: number, mask: number): number {
  if (mask === 0) return 0;
  let shift = 0;
  while (((mask >>> shift) & 1) === 0) shift++;
  const max = mask >>> shift;
  return Math.round((((value & mask) >>> shift) * 255) / max);
}

function readPalette(bytes: Uint8Array, view: DataView, headerSize: number, bitCount: number): Uint8Array {
  const declared = view.getUint32(46, true);
  const count = declared || 1 << bitCount;
  const palette = new Uint8Array(256 * 3);
  const at = 14 + headerSize;
  for (let i = 0; i < count && at + i * 4 + 2 < bytes.length; i++) {
    palette[i * 3] = bytes[at + i * 4 + 2];
    palette[i * 3 + 1] = bytes[at + i * 4 + 1];
    palette[i * 3 + 2] = bytes[at + i * 4];
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

/**
 * What an image file is, from its first bytes (never from its name or a content type someone
 * sent with it), and the media types that name each format. Pure TypeScript: nothing here
 * decodes, so it is safe on any bytes.
 */
import { HeaderReader } from './header-reader.js';

/** Formats we recognise. `svg` is recognised only to be refused by name: it is never decoded. */
export type ImageFormat = 'png' | 'jpeg' | 'webp' | 'bmp' | 'gif' | 'tiff' | 'heif' | 'svg';

/** What the HTTP API reads (BMP through our own reader): small, fuzzed decoders, one frame each. */
export const API_FORMATS: readonly ImageFormat[] = ['png', 'jpeg', 'webp', 'bmp'];

/** What `predict` reads from files (the formats the CLI documents): the API's and GIF, TIFF, AVIF/HEIF. */
export const FILE_FORMATS: readonly ImageFormat[] = ['png', 'jpeg', 'webp', 'bmp', 'gif', 'tiff', 'heif'];

/** Names for messages. */
export const FORMAT_NAMES: Record<ImageFormat, string> = {
  png: 'PNG',
  jpeg: 'JPEG',
  webp: 'WebP',
  bmp: 'BMP',
  gif: 'GIF',
  tiff: 'TIFF',
  heif: 'AVIF/HEIF',
  svg: 'SVG',
};

/** Media types of each format; the first is the one to send. */
export const MEDIA_TYPES: Record<ImageFormat, readonly string[]> = {
  png: ['image/png'],
  jpeg: ['image/jpeg', 'image/jpg', 'image/pjpeg'],
  webp: ['image/webp'],
  bmp: ['image/bmp', 'image/x-bmp', 'image/x-ms-bmp'],
  gif: ['image/gif'],
  tiff: ['image/tiff'],
  heif: ['image/avif', 'image/heif', 'image/heic', 'image/heif-sequence', 'image/heic-sequence'],
  svg: ['image/svg+xml'],
};

/** "PNG, JPEG, WebP or BMP". */
export function formatList(formats: readonly ImageFormat[]): string {
  const names = formats.map((f) => FORMAT_NAMES[f]);
  return names.length <= 1 ? names.join('') : `${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}`;
}

/** The format a media type names (`image/png; charset=x` → png); undefined when it names none of ours. */
export function formatOfMediaType(mediaType: string | undefined): ImageFormat | undefined {
  if (!mediaType) return undefined;
  const essence = mediaType.split(';')[0].trim().toLowerCase();
  for (const [format, types] of Object.entries(MEDIA_TYPES) as [ImageFormat, readonly string[]][]) {
    if (types.includes(essence)) return format;
  }
  return undefined;
}

const HEIF_BRANDS = new Set(['avif', 'avis', 'heic', 'heix', 'heim', 'heis', 'hevc', 'hevx', 'mif1', 'msf1']);

const ascii = (bytes: Uint8Array, start: number, length: number) =>
  String.fromCharCode(...bytes.subarray(start, start + length));

/** The format of a file from its magic bytes; undefined when it is none we recognise. */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | undefined {
  const b = bytes;
  if (
    b.length >= 8 &&
    b[0] === 0x89 &&
    ascii(b, 1, 3) === 'PNG' &&
    b[4] === 0x0d &&
    b[5] === 0x0a &&
    b[6] === 0x1a &&
    b[7] === 0x0a
  )
    return 'png';
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (b.length >= 12 && ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 4) === 'WEBP') return 'webp';
  if (b.length >= 2 && b[0] === 0x42 && b[1] === 0x4d) return 'bmp';
  if (b.length >= 6 && (ascii(b, 0, 6) === 'GIF87a' || ascii(b, 0, 6) === 'GIF89a')) return 'gif';
  if (
    b.length >= 4 &&
    ((b[0] === 0x49 && b[1] === 0x49 && (b[2] === 0x2a || b[2] === 0x2b) && b[3] === 0) ||
      (b[0] === 0x4d && b[1] === 0x4d && b[2] === 0 && (b[3] === 0x2a || b[3] === 0x2b)))
  )
    return 'tiff';
  if (b.length >= 12 && ascii(b, 4, 4) === 'ftyp' && HEIF_BRANDS.has(ascii(b, 8, 4))) return 'heif';
  if (looksLikeSvg(b)) return 'svg';
  return undefined;
}

/** SVG: text that opens with markup and names <svg early on (only to say so: it is never decoded). */
function looksLikeSvg(bytes: Uint8Array): boolean {
  const head = new TextDecoder('utf-8', { fatal: false })
    .decode(bytes.subarray(0, 4096))
    .replace(/^\uFEFF/, '')
    .trimStart();
  return head.startsWith('<') && /<svg[\s>]/i.test(head);
}

/**
 * Width and height from the header of a PNG, JPEG, WebP, GIF or BMP file, read here in a few
 * microseconds, before any library parses the file: a quick refusal of oversized pictures.
 * Undefined for other formats, or a header that does not say (a JPEG whose frame header comes
 * after the scan, an unknown WebP chunk): the decoder's own header reader then decides. A header
 * cut short, or a field that points outside the file, is a UserError naming `name` (every read
 * goes through HeaderReader), never a RangeError.
 */
export function readImageSize(
  bytes: Uint8Array,
  format: ImageFormat,
  name = 'the image',
): { width: number; height: number } | undefined {
  const r = new HeaderReader(bytes, name, FORMAT_NAMES[format]);
  switch (format) {
    case 'png':
      return r.ascii(12, 4, 'first chunk type') === 'IHDR'
        ? { width: r.u32be(16, 'width'), height: r.u32be(20, 'height') }
        : undefined;
    case 'gif':
      return { width: r.u16le(6, 'screen width'), height: r.u16le(8, 'screen height') };
    case 'bmp':
      return { width: Math.abs(r.i32le(18, 'width')), height: Math.abs(r.i32le(22, 'height')) };
    case 'webp':
      return webpSize(r);
    case 'jpeg':
      return jpegSize(r);
    default:
      return undefined;
  }
}

/** The canvas of a lossy ('VP8 '), lossless ('VP8L') or extended ('VP8X') WebP. */
function webpSize(r: HeaderReader): { width: number; height: number } | undefined {
  const chunk = r.ascii(12, 4, 'first chunk type');
  if (chunk === 'VP8 ')
    return { width: r.u16le(26, 'frame width') & 0x3fff, height: r.u16le(28, 'frame height') & 0x3fff };
  if (chunk === 'VP8L') {
    if (r.u8(20, 'lossless signature') !== 0x2f) return undefined;
    const bits = r.u32le(21, 'lossless size');
    return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
  }
  // Canvas width and height minus one, 24 bits each.
  if (chunk === 'VP8X') return { width: r.u24le(24, 'canvas width') + 1, height: r.u24le(27, 'canvas height') + 1 };
  return undefined;
}

/** The frame size of the first SOFn segment, walking the markers before the scan. */
function jpegSize(r: HeaderReader): { width: number; height: number } | undefined {
  let at = 2;
  while (r.has(at, 4)) {
    if (r.u8(at, 'marker') !== 0xff) return undefined;
    const marker = r.u8(at + 1, 'marker');
    if (marker === 0xff) {
      at++; // fill byte
      continue;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) {
      at += 2; // no length
      continue;
    }
    if (marker === 0xd9 || marker === 0xda) return undefined; // end of image, or the scan: no frame header before it
    const length = r.u16be(at + 2, 'segment length');
    const isFrame = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isFrame) return { height: r.u16be(at + 5, 'frame height'), width: r.u16be(at + 7, 'frame width') };
    at += 2 + length;
  }
  return undefined;
}

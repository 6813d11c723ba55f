/**
 * What an image file is, from its first bytes (never from its name or a content type someone
 * sent with it), and the media types that name each format. Pure TypeScript: nothing here
 * decodes, so it is safe on any bytes.
 */

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

const ascii = (bytes: Uint8Array, start: number, length: number) => String.fromCharCode(...bytes.subarray(start, start + length));

/** The format of a file from its magic bytes; undefined when it is none we recognise. */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | undefined {
  const b = bytes;
  if (b.length >= 8 && b[0] === 0x89 && ascii(b, 1, 3) === 'PNG' && b[4] === 0x0d && b[5] === 0x0a && b[6] === 0x1a && b[7] === 0x0a) return 'png';
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (b.length >= 12 && ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 4) === 'WEBP') return 'webp';
  if (b.length >= 2 && b[0] === 0x42 && b[1] === 0x4d) return 'bmp';
  if (b.length >= 6 && (ascii(b, 0, 6) === 'GIF87a' || ascii(b, 0, 6) === 'GIF89a')) return 'gif';
  if (b.length >= 4 && ((b[0] === 0x49 && b[1] === 0x49 && (b[2] === 0x2a || b[2] === 0x2b) && b[3] === 0) || (b[0] === 0x4d && b[1] === 0x4d && b[2] === 0 && (b[3] === 0x2a || b[3] === 0x2b)))) return 'tiff';
  if (b.length >= 12 && ascii(b, 4, 4) === 'ftyp' && HEIF_BRANDS.has(ascii(b, 8, 4))) return 'heif';
  if (looksLikeSvg(b)) return 'svg';
  return undefined;
}

/** SVG: text that opens with markup and names <svg early on (only to say so: it is never decoded). */
function looksLikeSvg(bytes: Uint8Array): boolean {
  const head = new TextDecoder('utf-8', { fatal: false }).decode(bytes.subarray(0, 4096)).replace(/^\uFEFF/, '').trimStart();
  return head.startsWith('<') && /<svg[\s>]/i.test(head);
}

/**
 * Width and height from the header of a PNG, JPEG, WebP, GIF or BMP file, read here in a few
 * microseconds; undefined for other formats or a header too short or malformed to say (the
 * decoder's own header reader then decides). A quick refusal of oversized pictures, before any
 * library parses them.
 */
export function readImageSize(bytes: Uint8Array, format: ImageFormat): { width: number; height: number } | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const has = (length: number) => bytes.length >= length;
  switch (format) {
    case 'png':
      return has(24) && ascii(bytes, 12, 4) === 'IHDR' ? { width: view.getUint32(16), height: view.getUint32(20) } : undefined;
    case 'gif':
      return has(10) ? { width: view.getUint16(6, true), height: view.getUint16(8, true) } : undefined;
    case 'bmp':
      return has(26) ? { width: Math.abs(view.getInt32(18, true)), height: Math.abs(view.getInt32(22, true)) } : undefined;
    case 'webp': {
      if (!has(30)) return undefined;
      const chunk = ascii(bytes, 12, 4);
      if (chunk === 'VP8 ') return { width: view.getUint16(26, true) & 0x3fff, height: view.getUint16(28, true) & 0x3fff };
      if (chunk === 'VP8L' && bytes[20] === 0x2f) {
        const bits = view.getUint32(21, true);
        return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
      }
      if (chunk === 'VP8X') return { width: (view.getUint32(24, true) & 0xffffff) + 1, height: (view.getUint32(27, true) & 0xffffff) + 1 };
      return undefined;
    }
    case 'jpeg':
      return jpegSize(bytes, view);
    default:
      return undefined;
  }
}

/** The frame size of the first SOFn segment, walking the markers before the scan. */
function jpegSize(bytes: Uint8Array, view: DataView): { width: number; height: number } | undefined {
  let at = 2;
  while (at + 4 <= bytes.length) {
    if (bytes[at] !== 0xff) return undefined;
    const marker = bytes[at + 1];
    if (marker === 0xff) {
      at++; // fill byte
      continue;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) {
      at += 2; // no length
      continue;
    }
    if (marker === 0xd9 || marker === 0xda) return undefined; // end of image, or the scan: no frame header before it
    const length = view.getUint16(at + 2);
    const isFrame = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isFrame) return at + 9 <= bytes.length ? { height: view.getUint16(at + 5), width: view.getUint16(at + 7) } : undefined;
    at += 2 + length;
  }
  return undefined;
}

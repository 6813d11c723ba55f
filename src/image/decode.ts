/**
 * Image file bytes → RawImage (Node only: sharp/libvips, and our own BMP reader). Every
 * failure is an ImageError (a UserError) naming the file, so one bad file in a folder is one
 * error row, and the server can answer each kind of refusal with its own status.
 *
 * Nothing is decoded before it is known to be safe to: the format comes from the file's magic
 * bytes and must be one the caller accepts (SVG never is), the size comes from the header (our
 * own reader, formats.ts, then sharp's metadata(), which decodes no pixel data) and must be
 * within `maxPixels`, and the decode itself is bounded in time. Pictures larger than the photo
 * pipeline's working size are shrunk by libvips while decoding, so a large upload costs its
 * working size in memory rather than its full size.
 */
import type { Sharp } from 'sharp';
import { TUNING, type RawImage } from './preprocess.js';
import { decodeBmp, readBmpSize } from './bmp.js';
import { decodeSmallPng } from './png.js';
import { FILE_FORMATS, FORMAT_NAMES, formatList, readImageSize, sniffImageFormat, type ImageFormat } from './formats.js';
import { UserError } from '../util/errors.js';

/** File name endings read as images when a folder is searched. */
export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.jpe', '.jfif', '.webp', '.gif', '.tif', '.tiff', '.bmp', '.avif'];

/** Largest picture decoded, in pixels (width x height): 4096x4096. `serve --max-pixels` changes it for the API. */
export const DEFAULT_MAX_PIXELS = 4096 * 4096;

/** Longest a decode may run before it is abandoned (libvips' timeout counts whole seconds). */
export const DEFAULT_DECODE_SECONDS = 5;

export interface DecodeOptions {
  /** Formats accepted (default: the files `predict` documents, FILE_FORMATS). */
  formats?: readonly ImageFormat[];
  /** Largest width x height decoded (default DEFAULT_MAX_PIXELS); larger is refused from the header. */
  maxPixels?: number;
  /**
   * Pictures whose longer side is over this are shrunk (by libvips, while decoding) to fit it.
   * Default: the photo pipeline's own working size, TUNING.maxWorkingSide, to which it would
   * shrink them anyway.
   */
  maxSide?: number;
  /** Seconds a decode may take (default DEFAULT_DECODE_SECONDS; whole seconds, at least 1). */
  timeoutSeconds?: number;
}

/** Why a file was refused: the server answers each with its own status. */
export type ImageProblem = 'empty' | 'unrecognised' | 'unsupported' | 'too_large' | 'corrupt' | 'timeout';

export class ImageError extends UserError {
  constructor(
    readonly problem: ImageProblem,
    file: string,
    message: string,
    /** The format the bytes are, when known. */
    readonly format?: ImageFormat,
  ) {
    super(message, file);
    this.name = 'ImageError';
  }
}

export async function decodeImage(bytes: Uint8Array, name: string, options: DecodeOptions = {}): Promise<RawImage> {
  const formats = options.formats ?? FILE_FORMATS;
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  const maxSide = options.maxSide ?? TUNING.maxWorkingSide;
  const seconds = Math.max(1, Math.ceil(options.timeoutSeconds ?? DEFAULT_DECODE_SECONDS));
  if (bytes.length === 0) throw new ImageError('empty', name, `${name}: is empty (0 bytes), not an image`);
  const format = sniffImageFormat(bytes);
  if (!format) throw new ImageError('unrecognised', name, `${name}: cannot be read as an image (not a ${formatList(formats)} file)`);
  // SVG is a program for librsvg (filters, huge canvases), not a picture: never decoded here.
  if (format === 'svg' || !formats.includes(format)) {
    throw new ImageError('unsupported', name, `${name}: is ${article(FORMAT_NAMES[format])} file; only ${formatList(formats.filter((f) => f !== 'svg'))} files are read`, format);
  }
  // Our own header reader first (PNG, JPEG, WebP, GIF, BMP): an oversized picture is refused
  // before any library parses it. The decoder's header reader below has the last word.
  const claimed = readImageSize(bytes, format);
  if (claimed) checkPixels(claimed, maxPixels, name, format);
  if (format === 'bmp') {
    const image = bmpOrError(() => {
      checkPixels(readBmpSize(bytes, name), maxPixels, name, format);
      return decodeBmp(bytes, name);
    }, name);
    return Math.max(image.width, image.height) > maxSide ? shrinkRaw(image, maxSide, seconds, name) : image;
  }
  // A small plain PNG (a 28x28 digit): our own decoder, the same bytes as sharp's at a thirtieth of the cost (png.ts).
  const small = format === 'png' ? decodeSmallPng(bytes) : undefined;
  if (small) return small;
  const { default: sharp } = await import('sharp');
  // metadata() reads the header only: no pixel data is decoded here, whatever the size.
  let header: { width?: number; height?: number; format?: string };
  try {
    header = await sharp(bytes, { limitInputPixels: false, animated: false }).metadata();
  } catch (err) {
    throw new ImageError('corrupt', name, `${name}: cannot be read as an image (${describeSharpError(err as Error, formats)})`, format);
  }
  if (sharpFormat(header.format) !== format || !header.width || !header.height) {
    throw new ImageError('corrupt', name, `${name}: cannot be read as an image (its ${FORMAT_NAMES[format]} header is not valid)`, format);
  }
  checkPixels({ width: header.width, height: header.height }, maxPixels, name, format);
  try {
    // rotate(): phone photos are stored sideways with an EXIF orientation tag.
    // failOn 'error': a truncated file is an error, not a half-grey picture.
    // limitInputPixels: the header was checked; libvips checks again on the pixels it opens.
    const pipeline = sharp(bytes, { failOn: 'error', animated: false, limitInputPixels: maxPixels }).timeout({ seconds }).rotate();
    return await toRawImage(Math.max(header.width, header.height) > maxSide ? fitInside(pipeline, maxSide) : pipeline);
  } catch (err) {
    throw decodeError(err as Error, name, format, formats);
  }
}

/** Our BMP reader's refusals (UserErrors naming the file) as ImageErrors. */
function bmpOrError(read: () => RawImage, name: string): RawImage {
  try {
    return read();
  } catch (err) {
    if (err instanceof ImageError || !(err instanceof UserError)) throw err;
    throw new ImageError('corrupt', name, err.message, 'bmp');
  }
}

/** A picture's size against the pixel limit, before any pixel is decoded. */
function checkPixels(size: { width: number; height: number }, maxPixels: number, name: string, format: ImageFormat): void {
  const pixels = size.width * size.height;
  if (pixels > maxPixels) {
    throw new ImageError(
      'too_large',
      name,
      `${name}: is ${size.width}x${size.height} pixels (${millions(pixels)}), over the limit of ${millions(maxPixels)}${maxPixels === DEFAULT_MAX_PIXELS ? ' (4096x4096)' : ''}: scale it down first`,
      format,
    );
  }
}

const millions = (pixels: number) => (pixels >= 1e6 ? `${(pixels / 1e6).toFixed(1)} million pixels` : `${pixels} pixels`);
const article = (word: string) => (/^[AEFHILMNORSX]/.test(word) ? `an ${word}` : `a ${word}`);

/** sharp's format names → ours. */
function sharpFormat(format: string | undefined): ImageFormat | undefined {
  if (format === 'jpeg' || format === 'png' || format === 'webp' || format === 'gif' || format === 'tiff' || format === 'svg') return format;
  if (format === 'heif' || format === 'avif') return 'heif';
  return undefined;
}

function fitInside(pipeline: Sharp, side: number): Sharp {
  return pipeline.resize({ width: side, height: side, fit: 'inside', withoutEnlargement: true });
}

async function toRawImage(pipeline: Sharp): Promise<RawImage> {
  const { data, info } = await pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  const channels = info.channels as RawImage['channels'];
  if (![1, 2, 3, 4].includes(channels)) throw new Error(`${info.channels} colour channels`);
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height, channels };
}

/** A BMP larger than the working size goes through the same libvips shrink as every other format. */
async function shrinkRaw(image: RawImage, side: number, seconds: number, name: string): Promise<RawImage> {
  const { default: sharp } = await import('sharp');
  try {
    const pipeline = sharp(image.data, { raw: { width: image.width, height: image.height, channels: image.channels } }).timeout({ seconds });
    return await toRawImage(fitInside(pipeline, side));
  } catch (err) {
    throw decodeError(err as Error, name, 'bmp', ['bmp']);
  }
}

function decodeError(err: Error, name: string, format: ImageFormat, formats: readonly ImageFormat[]): ImageError {
  const message = err.message.trim().split('\n')[0];
  if (/timeout/i.test(message)) return new ImageError('timeout', name, `${name}: took too long to decode (over the time limit): not decoded`, format);
  if (/exceeds pixel limit/i.test(message)) return new ImageError('too_large', name, `${name}: is over the pixel limit once opened: not decoded`, format);
  return new ImageError('corrupt', name, `${name}: cannot be read as an image (${describeSharpError(err, formats)})`, format);
}

function describeSharpError(err: Error, formats: readonly ImageFormat[]): string {
  const message = err.message.trim().split('\n')[0];
  if (/unsupported image format/i.test(message)) return `not a ${formatList(formats)} file`;
  if (/premature end|read error|truncated|end of file|not enough data|corrupt|invalid/i.test(message)) return `truncated or corrupt: ${message}`;
  return message;
}

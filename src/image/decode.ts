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
import { decodeBmpOffThread, PictureTimeoutError } from './picture-pool.js';
import { decodeSmallPng, SMALL_PNG_PIXELS } from './png.js';
import {
  FILE_FORMATS,
  FORMAT_NAMES,
  formatList,
  readImageSize,
  sniffImageFormat,
  type ImageFormat,
} from './formats.js';
import { UserError } from '../util/errors.js';

/** File name endings read as images when a folder is searched. */
export const IMAGE_EXTENSIONS = [
  '.png',
  '.jpg',
  '.jpeg',
  '.jpe',
  '.jfif',
  '.webp',
  '.gif',
  '.tif',
  '.tiff',
  '.bmp',
  '.avif',
];

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
  /**
   * Aborted when the picture is no longer wanted (the server's request timed out, or its client
   * left): decoding stops at its next step, a decode on a worker thread is ended at once, and
   * decodeImage rejects with the signal's reason. Read only for pictures over INLINE_PIXELS (a
   * getter may make it when first read: the small ones, decoded at once, never need one).
   */
  readonly signal?: AbortSignal;
  /**
   * Asked before any pixel is decoded, with what the decode will cost (from the header), and
   * awaited when it answers a promise: the server's decode budget waits here for memory, or
   * refuses (throws). What it returns is called once the decode is over, whatever its outcome.
   */
  admit?: (cost: DecodeCost) => Release | Promise<Release>;
}

/** Called once a decode admitted by `DecodeOptions.admit` is over. */
export type Release = () => void;

/** What decoding a picture costs, known from its header before any pixel is decoded. */
export interface DecodeCost {
  format: ImageFormat;
  width: number;
  height: number;
  /** Memory the decode may hold at its peak, in bytes (an estimate from the header: decodeBytes). */
  bytes: number;
}

/** Pictures up to this many pixels (128x128) are decoded by our readers at once, on the calling thread: a hop to a thread would cost more than the decode. */
export const INLINE_PIXELS = SMALL_PNG_PIXELS;

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
  if (!format)
    throw new ImageError(
      'unrecognised',
      name,
      `${name}: cannot be read as an image (not a ${formatList(formats)} file)`,
    );
  // SVG is a program for librsvg (filters, huge canvases), not a picture: never decoded here.
  if (format === 'svg' || !formats.includes(format)) {
    throw new ImageError(
      'unsupported',
      name,
      `${name}: is ${article(FORMAT_NAMES[format])} file; only ${formatList(formats.filter((f) => f !== 'svg'))} files are read`,
      format,
    );
  }
  // Our own header reader first (PNG, JPEG, WebP, GIF, BMP): an oversized picture is refused
  // before any library parses it. The decoder's header reader below has the last word.
  const claimed = asImageError(() => readImageSize(bytes, format, name), name, format);
  if (claimed) checkPixels(claimed, maxPixels, name, format);
  if (format === 'bmp') {
    const size = asImageError(() => readBmpSize(bytes, name), name, format);
    checkPixels(size, maxPixels, name, format);
    const cost = { format, ...size, bytes: bytes.length + decodeBytes(size.width, size.height, 4, 'uchar', maxSide) };
    if (size.width * size.height <= INLINE_PIXELS)
      return admitted(options, cost, async () => asImageError(() => decodeBmp(bytes, name), name, format), false);
    options.signal?.throwIfAborted();
    return admitted(options, cost, async () => {
      const image = await bmpOffThread(bytes, name, seconds, options.signal);
      return Math.max(image.width, image.height) > maxSide
        ? shrinkRaw(image, maxSide, seconds, name, options.signal)
        : image;
    });
  }
  // A small plain PNG (a 28x28 digit): our own decoder, the same bytes as sharp's at a thirtieth of the cost (png.ts).
  if (format === 'png' && claimed && claimed.width * claimed.height <= INLINE_PIXELS) {
    const cost = { format, ...claimed, bytes: claimed.width * claimed.height * 4 };
    const small = await admitted(
      options,
      cost,
      async () => asImageError(() => decodeSmallPng(bytes, name), name, format),
      false,
    );
    if (small) return small;
  }
  options.signal?.throwIfAborted();
  const { default: sharp } = await import('sharp');
  // metadata() reads the header only: no pixel data is decoded here, whatever the size.
  let header: { width?: number; height?: number; format?: string; channels?: number; depth?: string };
  try {
    header = await sharp(bytes, { limitInputPixels: false, animated: false }).metadata();
  } catch (err) {
    throw new ImageError(
      'corrupt',
      name,
      `${name}: cannot be read as an image (${describeSharpError(err as Error, formats)})`,
      format,
    );
  }
  if (sharpFormat(header.format) !== format || !header.width || !header.height) {
    throw new ImageError(
      'corrupt',
      name,
      `${name}: cannot be read as an image (its ${FORMAT_NAMES[format]} header is not valid)`,
      format,
    );
  }
  const { width, height } = header;
  checkPixels({ width, height }, maxPixels, name, format);
  options.signal?.throwIfAborted();
  return admitted(
    options,
    { format, width, height, bytes: decodeBytes(width, height, header.channels, header.depth, maxSide) },
    async () => {
      const started = performance.now();
      try {
        // rotate(): phone photos are stored sideways with an EXIF orientation tag.
        // failOn 'error': a truncated file is an error, not a half-grey picture.
        // limitInputPixels: the header was checked; libvips checks again on the pixels it opens.
        const pipeline = sharp(bytes, { failOn: 'error', animated: false, limitInputPixels: maxPixels })
          .timeout({ seconds })
          .rotate();
        return await toRawImage(Math.max(width, height) > maxSide ? fitInside(pipeline, maxSide) : pipeline);
      } catch (err) {
        // libvips stopped at its time limit sometimes says only "Unknown error": the clock tells.
        const timedOut = performance.now() - started >= seconds * 1000 - 50;
        throw decodeError(err as Error, name, format, formats, timedOut);
      }
    },
  );
}

/**
 * The memory decoding a width x height picture may hold at its peak: the whole frame at its own
 * depth (an interlaced PNG or a progressive JPEG is decoded whole before it can be shrunk; a
 * plain one streams and costs less) and a quarter more for libvips' working copies, and the
 * picture it is shrunk to, twice (libvips' and ours). docs/limits.md sets it beside measured peaks.
 */
export function decodeBytes(
  width: number,
  height: number,
  channels = 4,
  depth = 'uchar',
  maxSide: number = TUNING.maxWorkingSide,
): number {
  const sampleBytes =
    depth === 'ushort' || depth === 'short'
      ? 2
      : depth === 'float' || depth === 'uint' || depth === 'int'
        ? 4
        : depth === 'double'
          ? 8
          : 1;
  const scale = Math.min(1, maxSide / Math.max(width, height));
  const frame = width * height * channels * sampleBytes;
  return Math.ceil(frame * 1.25) + 2 * Math.ceil(width * scale) * Math.ceil(height * scale) * 4;
}

/**
 * Run `decode` once `options.admit` lets it (at once without one), releasing what it admitted
 * afterwards; unless `stoppable` is false (a decode done at once), not after the signal aborts.
 */
async function admitted<T>(
  options: DecodeOptions,
  cost: DecodeCost,
  decode: () => Promise<T>,
  stoppable = true,
): Promise<T> {
  if (!options.admit) return decode();
  const admission = options.admit(cost);
  const release = admission instanceof Promise ? await admission : admission;
  try {
    if (stoppable) options.signal?.throwIfAborted();
    return await decode();
  } finally {
    release();
  }
}

/** A header reader's or our decoders' refusal (a UserError naming the file) as an ImageError. */
function asImageError<T>(read: () => T, name: string, format: ImageFormat): T {
  try {
    return read();
  } catch (err) {
    if (err instanceof ImageError || !(err instanceof UserError)) throw err;
    throw new ImageError('corrupt', name, err.message, format);
  }
}

/** A large BMP on a decode thread (picture-pool.ts); its refusals as ImageErrors. */
async function bmpOffThread(
  bytes: Uint8Array,
  name: string,
  seconds: number,
  signal: AbortSignal | undefined,
): Promise<RawImage> {
  try {
    return await decodeBmpOffThread(bytes, name, { signal, timeoutMs: seconds * 1000 });
  } catch (err) {
    if (err instanceof PictureTimeoutError)
      throw new ImageError(
        'timeout',
        name,
        `${name}: took too long to decode (over the time limit): not decoded`,
        'bmp',
      );
    if (err instanceof UserError && !(err instanceof ImageError))
      throw new ImageError('corrupt', name, err.message, 'bmp');
    throw err;
  }
}

/** A picture's size against the pixel limit, before any pixel is decoded. */
function checkPixels(
  size: { width: number; height: number },
  maxPixels: number,
  name: string,
  format: ImageFormat,
): void {
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

const millions = (pixels: number) =>
  pixels >= 1e6 ? `${(pixels / 1e6).toFixed(1)} million pixels` : `${pixels} pixels`;
const article = (word: string) => (/^[AEFHILMNORSX]/.test(word) ? `an ${word}` : `a ${word}`);

/** sharp's format names → ours. */
function sharpFormat(format: string | undefined): ImageFormat | undefined {
  if (
    format === 'jpeg' ||
    format === 'png' ||
    format === 'webp' ||
    format === 'gif' ||
    format === 'tiff' ||
    format === 'svg'
  )
    return format;
  if (format === 'heif' || format === 'avif') return 'heif';
  return undefined;
}

function fitInside(pipeline: Sharp, side: number): Sharp {
  return pipeline.resize({ width: side, height: side, fit: 'inside', withoutEnlargement: true });
}

async function toRawImage(pipeline: Sharp): Promise<RawImage> {
  const { data, info } = await pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  const channels = info.channels;
  if (![1, 2, 3, 4].includes(channels)) throw new Error(`${info.channels} colour channels`);
  return {
    data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    width: info.width,
    height: info.height,
    channels,
  };
}

/** A BMP larger than the working size goes through the same libvips shrink as every other format. */
async function shrinkRaw(
  image: RawImage,
  side: number,
  seconds: number,
  name: string,
  signal: AbortSignal | undefined,
): Promise<RawImage> {
  signal?.throwIfAborted();
  const { default: sharp } = await import('sharp');
  try {
    const pipeline = sharp(image.data, {
      raw: { width: image.width, height: image.height, channels: image.channels },
    }).timeout({ seconds });
    return await toRawImage(fitInside(pipeline, side));
  } catch (err) {
    throw decodeError(err as Error, name, 'bmp', ['bmp']);
  }
}

function decodeError(
  err: Error,
  name: string,
  format: ImageFormat,
  formats: readonly ImageFormat[],
  timedOut = false,
): ImageError {
  const message = err.message.trim().split('\n')[0];
  if (/timeout/i.test(message) || (timedOut && /unknown error/i.test(message)))
    return new ImageError(
      'timeout',
      name,
      `${name}: took too long to decode (over the time limit): not decoded`,
      format,
    );
  if (/exceeds pixel limit/i.test(message))
    return new ImageError('too_large', name, `${name}: is over the pixel limit once opened: not decoded`, format);
  return new ImageError(
    'corrupt',
    name,
    `${name}: cannot be read as an image (${describeSharpError(err, formats)})`,
    format,
  );
}

function describeSharpError(err: Error, formats: readonly ImageFormat[]): string {
  const message = err.message.trim().split('\n')[0];
  if (/unsupported image format/i.test(message)) return `not a ${formatList(formats)} file`;
  if (/premature end|read error|truncated|end of file|not enough data|corrupt|invalid/i.test(message))
    return `truncated or corrupt: ${message}`;
  return message;
}

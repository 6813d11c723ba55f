/**
 * Request bodies → the model's input: `{pixels}`, `{image}` (base64), raw image bytes and
 * multipart files, each through the served model's own preprocessing (the Predictor holds its
 * spec). Bad input is an ApiError naming what is wrong and where (`items[3].pixels[7] is 300`).
 *
 * Image bytes are checked before anything decodes them (image/decode.ts): the format from the
 * magic bytes must be one the API reads (PNG, JPEG, WebP, BMP) and the one the content type
 * says, and the header's size must be within the server's pixel limit. Every route that takes
 * image files goes through fromImageBytes, with the ImageReader its plugin was registered with
 * (the served Predictor and the server's ImageRules: app.ts passes both as plugin options).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { PIXELS } from '../data/types.js';
import {
  DEFAULT_DECODE_SECONDS,
  DEFAULT_MAX_PIXELS,
  decodeImage,
  ImageError,
  INLINE_PIXELS,
  type DecodeCost,
  type DecodeOptions,
} from '../image/decode.js';
import { PictureTimeoutError, preprocessOffThread } from '../image/picture-pool.js';
import {
  API_FORMATS,
  FORMAT_NAMES,
  MEDIA_TYPES,
  formatList,
  formatOfMediaType,
  readImageSize,
  sniffImageFormat,
  type ImageFormat,
} from '../image/formats.js';
import type { Preprocessed } from '../image/preprocess.js';
import type { Predictor } from '../predict/predictor.js';
import { UserError } from '../util/errors.js';
import type { DecodeBudget } from './decode-budget.js';
import { ApiError, type ApiErrorCode } from './errors.js';
import { requestSignal, requestTimeLeftMs } from './hardening.js';

export type JsonItem = { pixels: number[] } | { image: string };

/**
 * A body's bytes as a plain Uint8Array over the same memory: no copy (`new Uint8Array(buffer)`
 * copies the whole body, and with the garbage it makes kept the main thread busy under large
 * uploads), and not a Buffer, whose `slice` is a view rather than a copy.
 */
export const bytesView = (buffer: Uint8Array): Uint8Array =>
  new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);

/** What image files a server accepts. */
export interface ImageRules {
  formats: readonly ImageFormat[];
  /** Largest width x height (`serve --max-pixels`). */
  maxPixels: number;
  /** Longest a decode may take, in seconds. */
  timeoutSeconds: number;
  /** Most pixels (width x height, added up) of the pictures of one request (`serve --max-request-pixels`). */
  maxRequestPixels: number;
  /** The memory decodes share across requests (decode-budget.ts); none: decodes do not wait. */
  budget?: DecodeBudget;
}

/** Most pixels decoded for one request by default: four pictures at the pixel limit (a batch of 38 such pictures would be 38 times the work of one). */
export const DEFAULT_MAX_REQUEST_PIXELS = 4 * DEFAULT_MAX_PIXELS;

export const DEFAULT_IMAGE_RULES: ImageRules = {
  formats: API_FORMATS,
  maxPixels: DEFAULT_MAX_PIXELS,
  timeoutSeconds: DEFAULT_DECODE_SECONDS,
  maxRequestPixels: DEFAULT_MAX_REQUEST_PIXELS,
};

/** The media types of the formats the API reads, for the body parser and the docs. */
export const API_MEDIA_TYPES: string[] = API_FORMATS.flatMap((format) => MEDIA_TYPES[format]);

/** What reads a request's images: the served Predictor (its preprocessing) and the server's rules. */
export interface ImageReader {
  predictor: Predictor;
  rules: ImageRules;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Pixels of the pictures this request has had decoded so far (against ImageRules.maxRequestPixels). */
    decodedPixels: number;
  }
}

/** Give the requests of a plugin that reads images their pixel count (registered by each such plugin). */
export function decorateImageRequests(app: FastifyInstance): void {
  app.decorateRequest('decodedPixels', 0);
}

/** {pixels: [...]} → MNIST-form input; count and range checked (422). */
function fromPixels(predictor: Predictor, pixels: number[], where: string): Preprocessed {
  if (pixels.length !== PIXELS)
    throw new ApiError(
      422,
      'wrong_pixel_count',
      `${where}pixels has ${pixels.length} values; a 28x28 image needs ${PIXELS}`,
    );
  const bad = pixels.findIndex((v) => !Number.isFinite(v) || v < 0 || v > 255);
  if (bad >= 0)
    throw new ApiError(422, 'pixel_out_of_range', `${where}pixels[${bad}] is ${pixels[bad]}, outside 0-255`);
  return predictor.preprocessPixels(Uint8Array.from(pixels, Math.round));
}

/** Each refusal of the image reader → its status. */
const IMAGE_STATUS: Record<ImageError['problem'], { status: number; code: ApiErrorCode }> = {
  empty: { status: 400, code: 'bad_image' },
  unrecognised: { status: 400, code: 'bad_image' },
  corrupt: { status: 400, code: 'bad_image' },
  unsupported: { status: 415, code: 'unsupported_image_format' },
  too_large: { status: 413, code: 'image_too_large' },
  timeout: { status: 422, code: 'image_too_complex' },
};

/**
 * Image file bytes → checked → decoded → the shared preprocessing. `declaredType` is the media
 * type the client sent with the bytes (Content-Type, a multipart part's type, a data: URL's).
 * With the `request` they come with, the decode is the request's: it counts towards the
 * request's pixels (413 `request_too_large` past the limit), waits for the server's decode
 * budget, and stops when the request is given up (hardening.ts, requestSignal).
 */
export async function fromImageBytes(
  { predictor, rules }: ImageReader,
  bytes: Uint8Array,
  name: string,
  declaredType?: string,
  request?: FastifyRequest,
): Promise<Preprocessed> {
  if (bytes.length === 0) throw new ApiError(400, 'bad_image', `${name} is empty`);
  checkDeclaredType(bytes, declaredType, name, rules.formats);
  try {
    const options = decodeOptions(rules, request);
    const image = await decodeImage(bytes, name, options);
    if (image.width * image.height <= INLINE_PIXELS) return predictor.preprocess(image);
    // The photo pipeline on a large picture is a few hundred milliseconds of per-pixel work: on a
    // picture thread, with the run's spec, as predictor.preprocess would do it here.
    return await preprocessOffThread(image, predictor.spec, name, {
      signal: options.signal,
      timeoutMs: (options.timeoutSeconds ?? rules.timeoutSeconds) * 1000,
    });
  } catch (err) {
    if (err instanceof ImageError) {
      const { status, code } = IMAGE_STATUS[err.problem];
      throw new ApiError(status, code, err.message);
    }
    if (err instanceof UserError) throw new ApiError(400, 'bad_image', err.message);
    if (err instanceof PictureTimeoutError)
      throw new ApiError(
        IMAGE_STATUS.timeout.status,
        IMAGE_STATUS.timeout.code,
        `${name}: took too long to read (over the time limit)`,
      );
    throw err;
  }
}

/**
 * Several image files of one request (a multipart batch, a /v2 BYTES tensor), in order. Their
 * sizes are read from their headers first: pictures within the pixel limit that add up to more
 * than the request's limit are refused (413) before any is decoded, rather than after the first few.
 */
export async function fromImageFiles(
  reader: ImageReader,
  files: { bytes: Uint8Array; name: string; type?: string }[],
  request?: FastifyRequest,
): Promise<Preprocessed[]> {
  const { rules } = reader;
  let pixels = 0;
  for (const { bytes, name } of files) {
    const format = sniffImageFormat(bytes);
    let size: { width: number; height: number } | undefined;
    try {
      size = format && rules.formats.includes(format) ? readImageSize(bytes, format, name) : undefined;
    } catch {
      size = undefined; // a damaged header: decoding it says so, naming the file
    }
    // A picture over the pixel limit is refused on its own, as image_too_large, when reached.
    if (size && size.width * size.height <= rules.maxPixels) pixels += size.width * size.height;
  }
  if (pixels > rules.maxRequestPixels) throw tooManyPixels(pixels, rules.maxRequestPixels);
  const inputs: Preprocessed[] = [];
  for (const file of files) inputs.push(await fromImageBytes(reader, file.bytes, file.name, file.type, request));
  return inputs;
}

const tooManyPixels = (pixels: number, max: number) =>
  new ApiError(
    413,
    'request_too_large',
    `the pictures of this request add up to ${(pixels / 1e6).toFixed(1)} million pixels, over the limit of ${(max / 1e6).toFixed(1)} million for one request: send fewer at once`,
  );

/** Nothing to release: a small picture's decode does not wait for the budget. */
const NOTHING_HELD = () => {};

/**
 * How a request's pictures are decoded: the server's rules, its time left, its pixel count, the
 * decode budget and its signal. A picture the size our readers decode at once (INLINE_PIXELS:
 * 64 KB at most) does not wait for the budget, so a 28x28 digit never queues behind large
 * pictures; and the request's AbortSignal is made only when a large picture asks for it (a
 * getter: an AbortController per request was a visible part of a small picture's CPU profile).
 */
function decodeOptions(rules: ImageRules, request: FastifyRequest | undefined): DecodeOptions {
  // A decode never runs past its request's time limit (libvips counts whole seconds).
  const timeoutSeconds = request
    ? Math.max(1, Math.min(rules.timeoutSeconds, Math.ceil(requestTimeLeftMs(request) / 1000)))
    : rules.timeoutSeconds;
  const options: DecodeOptions = {
    formats: rules.formats,
    maxPixels: rules.maxPixels,
    timeoutSeconds,
    get signal() {
      return request ? requestSignal(request) : undefined;
    },
    admit(cost: DecodeCost) {
      const pixels = cost.width * cost.height;
      if (request) {
        const total = (request.decodedPixels ?? 0) + pixels;
        if (total > rules.maxRequestPixels) throw tooManyPixels(total, rules.maxRequestPixels);
        request.decodedPixels = total;
      }
      return rules.budget && pixels > INLINE_PIXELS ? rules.budget.acquire(cost.bytes, options.signal) : NOTHING_HELD;
    },
  };
  return options;
}

/**
 * Media types that say nothing about an image: a multipart file part with no Content-Type is
 * text/plain by RFC 7578 (busboy reports it so), and clients label unknown files octet-stream.
 */
const GENERIC_TYPES = new Set(['application/octet-stream', 'text/plain', 'image/*']);

/** The bytes must be what their media type says, and a type the API reads. Generic types say nothing. */
function checkDeclaredType(
  bytes: Uint8Array,
  declaredType: string | undefined,
  name: string,
  formats: readonly ImageFormat[],
): void {
  const type = declaredType?.split(';')[0].trim().toLowerCase();
  if (!type || GENERIC_TYPES.has(type)) return;
  const declared = formatOfMediaType(type);
  if (!declared || !formats.includes(declared)) {
    const accepted = formats.map((f) => MEDIA_TYPES[f][0]).join(', ');
    throw new ApiError(
      415,
      'unsupported_image_format',
      `${name} is sent as ${type}: send ${formatList(formats)} (${accepted})`,
    );
  }
  const actual = sniffImageFormat(bytes);
  if (actual && actual !== declared) {
    throw new ApiError(
      415,
      'content_type_mismatch',
      `${name} is sent as ${type} but its bytes are ${FORMAT_NAMES[actual]}; send it as ${MEDIA_TYPES[actual][0]}${formats.includes(actual) ? '' : ` (which this server does not read: send ${formatList(formats)})`}`,
    );
  }
}

function fromBase64(reader: ImageReader, image: string, name: string, request?: FastifyRequest): Promise<Preprocessed> {
  const dataUrl = /^data:([^,]*),/.exec(image);
  const payload = dataUrl ? image.slice(dataUrl[0].length) : image;
  if (!/^[A-Za-z0-9+/=\s_-]*$/.test(payload)) throw new ApiError(400, 'bad_image', `${name} is not base64`);
  const declared = dataUrl?.[1].split(';')[0] || undefined;
  return fromImageBytes(reader, bytesView(Buffer.from(payload, 'base64')), name, declared, request);
}

/** One JSON item, `{pixels}` or `{image}`; an image is decoded as the `request`'s (see fromImageBytes). */
export function fromJsonItem(
  reader: ImageReader,
  item: JsonItem,
  where: string,
  request?: FastifyRequest,
): Promise<Preprocessed> {
  if (typeof item !== 'object' || item === null)
    throw new ApiError(415, 'unsupported_media_type', 'send an image, a multipart form or JSON');
  return 'pixels' in item
    ? Promise.resolve(fromPixels(reader.predictor, item.pixels, where))
    : fromBase64(reader, item.image, `${where}image`, request);
}

export interface FormFile {
  bytes: Uint8Array;
  filename: string;
  mimetype: string;
}

/**
 * The files of a multipart form, read one after another. The body limit caps the whole request
 * (the Content-Length when the client sends one, and the bytes of all files read), at most
 * `maxFiles` files (more: 400, naming the route that takes more), text fields are skipped
 * (busboy refuses more than MAX_FIELDS).
 */
export async function readFormFiles(
  request: FastifyRequest,
  options: { bodyLimit: number; maxFiles: number; tooMany: string },
): Promise<FormFile[]> {
  const { bodyLimit, maxFiles } = options;
  const declared = Number(request.headers['content-length']);
  if (Number.isFinite(declared) && declared > bodyLimit)
    throw new ApiError(413, 'body_too_large', `the body is larger than the limit of ${bodyLimit} bytes`);
  const files: FormFile[] = [];
  let total = 0;
  for await (const part of request.parts()) {
    if (part.type !== 'file') continue;
    if (files.length === maxFiles) {
      // Not read: the rest of the body is dropped with the connection.
      throw new ApiError(400, 'too_many_files', options.tooMany);
    }
    const buffer = await part.toBuffer();
    total += buffer.length;
    if (total > bodyLimit)
      throw new ApiError(413, 'body_too_large', `the files add up to more than the body limit of ${bodyLimit} bytes`);
    files.push({ bytes: bytesView(buffer), filename: part.filename, mimetype: part.mimetype });
  }
  return files;
}

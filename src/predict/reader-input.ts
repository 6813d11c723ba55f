/**
 * What both digit readers (Node: `digit-reader.ts`; the browser: `src/browser/digit-reader.ts`)
 * accept besides their platform's own pictures, and how each kind becomes the model's input
 * through the one preprocessing (image/preprocess.ts). Pure TypeScript, bundled by the browser
 * entry as well.
 */
import type { PreprocessSpec } from '../data/model-input.js';
import { sniffImageFormat } from '../image/formats.js';
import { preprocessImage, preprocessMnistPixels, type Preprocessed, type RawImage } from '../image/preprocess.js';
import { UserError } from '../util/errors.js';

/**
 * Decoded pixels as a browser's `ImageData` holds them (or a canvas, sharp's `raw()`): `data`
 * is row-major with 4 (RGBA), 3 (RGB), 2 (gray + alpha) or 1 (gray) bytes per pixel, told
 * from its length.
 */
export interface ImageDataLike {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
}

export function isImageDataLike(input: unknown): input is ImageDataLike {
  if (typeof input !== 'object' || input === null) return false;
  const { data, width, height } = input as Partial<ImageDataLike>;
  return (
    (data instanceof Uint8Array || data instanceof Uint8ClampedArray) &&
    typeof width === 'number' &&
    typeof height === 'number'
  );
}

/** An ImageData-like picture → the RawImage the preprocessing reads; a clear error when its sizes disagree. */
export function rawImageOf(image: ImageDataLike, what = 'the image'): RawImage {
  const { data, width, height } = image;
  const pixels = width * height;
  const channels = Number.isInteger(width) && Number.isInteger(height) && pixels > 0 ? data.length / pixels : NaN;
  if (channels !== 1 && channels !== 2 && channels !== 3 && channels !== 4) {
    throw new UserError(
      `${what}: ${data.length} bytes of data do not make a ${width}x${height} picture of 1 to 4 bytes per pixel`,
    );
  }
  return { data, width, height, channels };
}

/**
 * What a byte array is: an image file (its first bytes are a format's signature: PNG, JPEG,
 * WebP, BMP, ...) or, when it is not one and has exactly size² bytes (784), an image already in
 * MNIST form (28x28, white on black, row by row). Anything else is refused.
 */
export function bytesKind(bytes: Uint8Array, spec: PreprocessSpec, what: string): 'file' | 'pixels' {
  if (sniffImageFormat(bytes)) return 'file';
  if (bytes.length === spec.size * spec.size) return 'pixels';
  throw new UserError(
    `${what}: ${bytes.length} bytes that are neither an image file (PNG, JPEG, WebP, BMP, ...) nor ${spec.size}x${spec.size} = ${spec.size * spec.size} MNIST-form pixels`,
  );
}

/** MNIST-form pixels or a decoded picture → the model's input, by the model's own spec. */
export function preprocessInput(
  input: { pixels: Uint8Array } | { image: RawImage },
  spec: PreprocessSpec,
): Preprocessed {
  return 'pixels' in input ? preprocessMnistPixels(input.pixels, spec) : preprocessImage(input.image, { spec });
}

/** How an input is named in an error message. */
export function describeInput(input: unknown, index?: number): string {
  const at = index === undefined ? '' : `input ${index}: `;
  if (typeof input === 'string') return input.startsWith('data:') ? `${at}a data: URL` : input;
  if (input instanceof URL) return input.href;
  if (input instanceof Uint8Array) return `${at}${input.length} bytes`;
  if (isImageDataLike(input)) return `${at}a ${input.width}x${input.height} picture`;
  if (typeof input !== 'object' || input === null) return `${at}${input === null ? 'null' : typeof input}`;
  // A File says its name; other objects (a Blob, an <img>, a canvas) their kind.
  const { name } = input as { name?: unknown };
  return typeof name === 'string' && name ? name : `${at}a ${input.constructor?.name ?? 'object'}`;
}

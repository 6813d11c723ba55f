import { gunzipSync } from 'node:zlib';
import { DataError } from '../util/errors.js';
import { idxImages, idxLabels, parseIdxBytes, type IdxArray } from './idx-format.js';

/** IDX files as Node reads them, raw or gzip: the format itself is idx-format.ts. */
export { writeIdx } from './idx-format.js';

const GZIP_MAGIC = [0x1f, 0x8b];

function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === GZIP_MAGIC[0] && bytes[1] === GZIP_MAGIC[1];
}

/** Gunzip when the bytes are gzip, else return them as they are. `name` is used in errors. */
export function maybeGunzip(bytes: Uint8Array, name: string): Uint8Array {
  if (!isGzip(bytes)) return bytes;
  try {
    return new Uint8Array(gunzipSync(bytes));
  } catch (err) {
    throw new DataError(name, `is not a valid gzip file (${(err as Error).message})`);
  }
}

/**
 * Parse an IDX file (raw or gzip). Checks the magic number, the element type, the number of
 * dimensions when `expectDims` is given, and that the byte length matches the header.
 */
export function parseIdx(raw: Uint8Array, name: string, expectDims?: number): IdxArray {
  return parseIdxBytes(maybeGunzip(raw, name), name, expectDims);
}

/** Check an images file: 3 dimensions of count x 28 x 28. */
export function parseIdxImages(raw: Uint8Array, name: string): { count: number; images: Uint8Array } {
  return idxImages(parseIdx(raw, name, 3), name);
}

/** Check a labels file: 1 dimension, every label in 0..numClasses-1. */
export function parseIdxLabels(raw: Uint8Array, name: string, numClasses = 10): Uint8Array {
  return idxLabels(parseIdx(raw, name, 1), name, numClasses);
}

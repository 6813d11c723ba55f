import type { IdxFileName } from './checksums.js';
import { IMAGE_SIZE, type ImageSet } from './types.js';
import { DataError } from '../util/errors.js';

/**
 * The IDX format itself, on bytes already decompressed: free of Node's modules, so that the
 * page's Train panel reads the MNIST files in a browser with the same checks as Node
 * (idx.ts adds gzip on top).
 */

/** An IDX array of unsigned bytes (the only element type MNIST uses). */
export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

const UBYTE = 0x08;

/**
 * Parse IDX bytes (not gzip). Checks the magic number, the element type, the number of
 * dimensions when `expectDims` is given, and that the byte length matches the header.
 */
export function parseIdxBytes(bytes: Uint8Array, name: string, expectDims?: number): IdxArray {
  if (bytes.length < 4) throw new DataError(name, `is ${bytes.length} bytes long, too short for an IDX header`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    const magic = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join('');
    throw new DataError(name, `bad magic number 0x${magic}: not an IDX file`);
  }
  if (bytes[2] !== UBYTE) {
    throw new DataError(name, `element type 0x${bytes[2].toString(16)} is not unsigned byte (0x08)`);
  }
  const ndims = bytes[3];
  if (expectDims !== undefined && ndims !== expectDims) {
    throw new DataError(name, `has ${ndims} dimensions, expected ${expectDims}`);
  }
  const headerLength = 4 + 4 * ndims;
  if (bytes.length < headerLength) {
    throw new DataError(name, `is ${bytes.length} bytes long, too short for a header of ${ndims} dimensions`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const expected = headerLength + dims.reduce((a, b) => a * b, 1);
  if (bytes.length !== expected) {
    throw new DataError(
      name,
      `byte length ${bytes.length} does not match the header (dimensions ${dims.join('x')} need ${expected} bytes)`,
    );
  }
  return { dims, data: bytes.subarray(headerLength) };
}

/** Serialise an unsigned-byte IDX array (used by tests and by `data --export`). */
export function writeIdx(dims: number[], data: Uint8Array): Uint8Array {
  const size = dims.reduce((a, b) => a * b, 1);
  if (size !== data.length)
    throw new Error(`writeIdx: dimensions ${dims.join('x')} need ${size} bytes, got ${data.length}`);
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(out.buffer);
  out[2] = UBYTE;
  out[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

/** An images array (3 dimensions): count x 28 x 28. */
export function idxImages({ dims, data }: IdxArray, name: string): { count: number; images: Uint8Array } {
  if (dims[1] !== IMAGE_SIZE || dims[2] !== IMAGE_SIZE) {
    throw new DataError(name, `images are ${dims[1]}x${dims[2]}, expected ${IMAGE_SIZE}x${IMAGE_SIZE}`);
  }
  return { count: dims[0], images: data };
}

/** A labels array (1 dimension): every label in 0..numClasses-1. */
export function idxLabels({ data }: IdxArray, name: string, numClasses = 10): Uint8Array {
  for (let i = 0; i < data.length; i++) {
    if (data[i] >= numClasses) {
      throw new DataError(name, `label ${data[i]} at index ${i} is outside 0-${numClasses - 1}`);
    }
  }
  return data;
}

/** One images file and its labels file (not gzip) as a set: the same count in both. */
function pairToSet(images: Uint8Array, imagesName: IdxFileName, labels: Uint8Array, labelsName: IdxFileName): ImageSet {
  const set = idxImages(parseIdxBytes(images, imagesName, 3), imagesName);
  const labelValues = idxLabels(parseIdxBytes(labels, labelsName, 1), labelsName);
  if (labelValues.length !== set.count)
    throw new DataError(labelsName, `has ${labelValues.length} labels but ${imagesName} has ${set.count} images`);
  return { images: set.images, labels: labelValues, count: set.count };
}

/** The training and test sets from the four IDX files' bytes (not gzip), read in Node or fetched in a browser. */
export function trainAndTestSets(bytes: Record<IdxFileName, Uint8Array>): { train: ImageSet; test: ImageSet } {
  return {
    train: pairToSet(
      bytes['train-images-idx3-ubyte'],
      'train-images-idx3-ubyte',
      bytes['train-labels-idx1-ubyte'],
      'train-labels-idx1-ubyte',
    ),
    test: pairToSet(
      bytes['t10k-images-idx3-ubyte'],
      't10k-images-idx3-ubyte',
      bytes['t10k-labels-idx1-ubyte'],
      't10k-labels-idx1-ubyte',
    ),
  };
}

import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { callStock, type TensorInfo } from './wasm-calls.js';

interface TileArgs {
  inputs: { x: TensorInfo };
  backend: BackendWasm;
  attrs: tf.TileAttrs;
}

type Numbers = Float32Array | Int32Array | Uint8Array;

/**
 * Tile by block copies. The batch-norm gradient tiles its [1, 1, 1, c] scale up to the whole
 * activation; the stock wasm kernel computes every output index on its own, dozens of times
 * slower for a [128, 28, 28, 32] output than copying whole blocks (memmove). Bench:
 * `npm run bench:kernels`.
 */
export function tileByBlocks({ inputs, backend, attrs }: TileArgs): TensorInfo {
  const { x } = inputs;
  if (x.dtype === 'string' || x.dtype === 'complex64' || x.shape.length === 0)
    return callStock(backend, 'Tile', inputs, attrs);
  const outShape = x.shape.map((size, axis) => size * attrs.reps[axis]);
  const out = backend.makeOutput(outShape, x.dtype);
  if (outShape.some((size) => size === 0)) return out;
  const source = backend.typedArrayFromHeap(x);
  const target = backend.typedArrayFromHeap(out);
  fillTiled(source, x.shape, attrs.reps, target);
  return out;
}

/**
 * Output block of axis d (at fixed outer indices) = reps[d] copies of the shape[d] sub-blocks of
 * axis d + 1: write the first copy recursively, then double it in place until it is complete.
 */
function fillTiled(source: Numbers, shape: number[], reps: number[], target: Numbers): void {
  const rank = shape.length;
  const sourceStrides = new Array<number>(rank);
  const targetBlock = new Array<number>(rank + 1);
  sourceStrides[rank - 1] = 1;
  targetBlock[rank] = 1;
  for (let d = rank - 1; d >= 0; d--) {
    if (d < rank - 1) sourceStrides[d] = sourceStrides[d + 1] * shape[d + 1];
    targetBlock[d] = targetBlock[d + 1] * shape[d] * reps[d];
  }
  const fill = (axis: number, from: number, to: number): void => {
    const oneCopy = shape[axis] * targetBlock[axis + 1];
    if (axis === rank - 1) {
      target.set(source.subarray(from, from + shape[axis]), to);
    } else {
      for (let i = 0; i < shape[axis]; i++)
        fill(axis + 1, from + i * sourceStrides[axis], to + i * targetBlock[axis + 1]);
    }
    const total = oneCopy * reps[axis];
    for (let done = oneCopy; done < total; done *= 2) {
      target.copyWithin(to + done, to, to + Math.min(done, total - done));
    }
  };
  fill(0, 0, 0);
}

import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { addressOf, simdKernels } from './simd.js';
import { callStock, heapView, matMulTransposedA, release, reshape, type TensorInfo } from './wasm-calls.js';

interface ReduceArgs {
  inputs: { x: TensorInfo };
  backend: BackendWasm;
  attrs: tf.SumAttrs;
}

/**
 * Sum and Mean over the leading axes ([n, h, w, c] → [c]: bias gradients, batch-norm moments)
 * as xᵀ · ones with x seen as [rows, c]. The stock kernels first transpose the reduced axes
 * inward, which took about three times as long for a [128, 28, 28, 32] tensor. (ones · x would run on XNNPACK,
 * which first packs all of x: slower still.) Where the kept columns divide by 4, our SIMD
 * kernel sums them in one pass instead (columnSums: blocks of rows, each block's partial sums
 * added to the total, so no running sum grows over more than 64 values).
 */
export function sumOverLeadingAxes(args: ReduceArgs): TensorInfo {
  return reduceLeadingAxes(args, 'Sum');
}

export function meanOverLeadingAxes(args: ReduceArgs): TensorInfo {
  return reduceLeadingAxes(args, 'Mean');
}

const MAX_ROWS = 1 << 22;

function reduceLeadingAxes({ inputs, backend, attrs }: ReduceArgs, kernel: 'Sum' | 'Mean'): TensorInfo {
  const { x } = inputs;
  const axes = tf.util.parseAxisParam(attrs.axis, x.shape).sort((a, b) => a - b);
  const leading = axes.length > 0 && axes.length < x.shape.length && axes.every((axis, i) => axis === i);
  if (x.dtype !== 'float32' || !leading) return callStock(backend, kernel, inputs, attrs);
  const rows = x.shape.slice(0, axes.length).reduce((a, b) => a * b, 1);
  const keptShape = x.shape.slice(axes.length);
  const columns = keptShape.reduce((a, b) => a * b, 1);
  // A single column gains nothing, and a vector of ones as long as a huge tensor costs memory.
  if (columns < 2 || rows === 0 || rows > MAX_ROWS) return callStock(backend, kernel, inputs, attrs);
  const outShape = attrs.keepDims ? [...axes.map(() => 1), ...keptShape] : keptShape;
  if (columns % 4 === 0) {
    const result = backend.makeOutput(outShape, 'float32');
    simdKernels(backend).columnSums(
      addressOf(backend, x),
      addressOf(backend, result),
      rows,
      columns,
      kernel === 'Mean' ? 1 / rows : 1,
    );
    return result;
  }
  const weights = backend.makeOutput([rows, 1], 'float32');
  heapView(backend, weights).fill(kernel === 'Mean' ? 1 / rows : 1);
  const matrix = reshape(backend, x, [rows, columns]);
  const product = matMulTransposedA(backend, matrix, weights);
  const result = reshape(backend, product, outShape);
  release(backend, weights, matrix, product);
  return result;
}

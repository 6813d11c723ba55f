import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { callStock, matMul, release, reshape, transpose, type TensorInfo } from './wasm-calls.js';

interface BatchMatMulArgs {
  inputs: { a: TensorInfo; b: TensorInfo };
  backend: BackendWasm;
  attrs: tf.BatchMatMulAttrs;
}

/**
 * Two fixes to the stock matMul of a single pair of float32 matrices:
 * - A transposed operand is transposed explicitly, then XNNPACK runs the product. The stock
 *   kernel sends any transpose flag to a plain blocked loop: a dense layer's gradients (xᵀ·dy,
 *   dy·Wᵀ for a [128, 3136] × [3136, 128] layer) took ~28 ms each that way, ~3 ms this way.
 * - XNNPACK's operator is cached under b's tensor id with b's first shape packed in, so b
 *   reshaped (same id, other shape) silently gave wrong products. Such a b goes in under a
 *   fresh id; b seen with its first shape keeps the stock path and its cache (fast inference).
 * Batched products stay on the stock kernel (a loop, with no cache).
 */
export function batchMatMulTransposing({ inputs, backend, attrs }: BatchMatMulArgs): TensorInfo {
  const { a, b } = inputs;
  const { transposeA, transposeB } = attrs;
  const single = batchSize(a) === 1 && batchSize(b) === 1;
  if (!single || a.dtype !== 'float32' || b.dtype !== 'float32') return callStock(backend, 'BatchMatMul', inputs, attrs);
  if (!transposeA && !transposeB && cachedShapeMatches(b)) return callStock(backend, 'BatchMatMul', inputs, attrs);
  const left = asMatrix(backend, a, transposeA);
  const right = asMatrix(backend, b, transposeB);
  if (left.shape[1] !== right.shape[0]) {
    release(backend, left, right);
    throw new Error(`Error in matMul: inner shapes (${left.shape[1]}) and (${right.shape[0]}) of tensors with shapes ${a.shape} and ${b.shape} and transposeA=${transposeA} and transposeB=${transposeB} must match.`);
  }
  const product = matMul(backend, left, right);
  const outer = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const result = reshape(backend, product, [...outer, left.shape[0], right.shape[1]]);
  release(backend, left, right, product);
  return result;
}

/** The shape each tensor (by data id) was first multiplied with as b: what XNNPACK cached. */
const shapeCachedAsWeights = new WeakMap<object, string>();

function cachedShapeMatches(b: TensorInfo): boolean {
  const shape = b.shape.slice(-2).join('x');
  const cached = shapeCachedAsWeights.get(b.dataId);
  if (cached === undefined) shapeCachedAsWeights.set(b.dataId, shape);
  return cached === undefined || cached === shape;
}

function batchSize(x: TensorInfo): number {
  return x.shape.slice(0, -2).reduce((p, d) => p * d, 1);
}

/** The last two axes as a [rows, columns] matrix, transposed into a fresh tensor if asked. */
function asMatrix(backend: BackendWasm, x: TensorInfo, transposed: boolean): TensorInfo {
  const [rows, columns] = x.shape.slice(-2);
  const matrix = reshape(backend, x, [rows, columns]);
  if (!transposed) return matrix;
  const result = transpose(backend, matrix, [1, 0]);
  release(backend, matrix);
  return result;
}

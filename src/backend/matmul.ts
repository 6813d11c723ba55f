import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { addressOf, simdKernels } from './simd.js';
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
 *   dy·Wᵀ for a [128, 3136] × [3136, 128] layer) ran about ten times slower that way than this way.
 *   Where that would have XNNPACK pack a large Wᵀ, the product is taken the other way round.
 * - XNNPACK's operator is cached under b's tensor id with b's first shape packed in, so b
 *   reshaped (same id, other shape) silently gave wrong products. Such a b goes in under a
 *   fresh id; b seen with its first shape keeps the stock path and its cache (fast inference).
 * Batched products stay on the stock kernel (a loop, with no cache).
 */
export function batchMatMulTransposing({ inputs, backend, attrs }: BatchMatMulArgs): TensorInfo {
  const { a, b } = inputs;
  const { transposeA, transposeB } = attrs;
  const single = batchSize(a) === 1 && batchSize(b) === 1;
  if (!single || a.dtype !== 'float32' || b.dtype !== 'float32')
    return callStock(backend, 'BatchMatMul', inputs, attrs);
  const [rowsA, columnsA] = a.shape.slice(-2);
  const [rowsB, columnsB] = b.shape.slice(-2);
  const [m, innerA] = transposeA ? [columnsA, rowsA] : [rowsA, columnsA];
  const [innerB, n] = transposeB ? [columnsB, rowsB] : [rowsB, columnsB];
  if (innerA !== innerB) {
    throw new Error(
      `Error in matMul: inner shapes (${innerA}) and (${innerB}) of tensors with shapes ${a.shape} and ${b.shape} and transposeA=${transposeA} and transposeB=${transposeB} must match.`,
    );
  }
  const outer = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  if ((transposeA || transposeB) && n % 8 === 0)
    return matMulSimd(backend, a, b, { transposeA, transposeB, outShape: [...outer, m, n] });
  if (!transposeA && !transposeB && cachedShapeMatches(b)) return callStock(backend, 'BatchMatMul', inputs, attrs);
  const product =
    (transposeA || transposeB) && packsLessTheOtherWay(m, innerA, n)
      ? multiplyTheOtherWay(backend, a, b, transposeA, transposeB)
      : multiplyAsMatrices(backend, a, b, transposeA, transposeB);
  const result = reshape(backend, product, [...outer, m, n]);
  release(backend, product);
  return result;
}

interface FusedMatMulArgs {
  inputs: { a: TensorInfo; b: TensorInfo; bias?: TensorInfo; preluActivationWeights?: TensorInfo };
  backend: BackendWasm;
  attrs: { transposeA: boolean; transposeB: boolean; activation: string; leakyreluAlpha?: number };
}

/**
 * The dense layers' forward product (with their bias and ReLU) on our SIMD kernel while
 * training: the stock kernel hands it to XNNPACK, which packs the weights afresh whenever they
 * are a new tensor, i.e. at every step. Weights seen before with the same shape (inference)
 * keep the stock path and XNNPACK's packed copy.
 */
export function fusedMatMul({ inputs, backend, attrs }: FusedMatMulArgs): TensorInfo {
  const { a, b, bias, preluActivationWeights } = inputs;
  const { transposeA, transposeB, activation } = attrs;
  const n = transposeB ? b.shape[b.shape.length - 2] : b.shape[b.shape.length - 1];
  const supported =
    batchSize(a) === 1 &&
    batchSize(b) === 1 &&
    a.dtype === 'float32' &&
    b.dtype === 'float32' &&
    n % 8 === 0 &&
    !preluActivationWeights &&
    (activation === 'linear' || activation === 'relu') &&
    (!bias || (bias.dtype === 'float32' && bias.shape.length === 1 && bias.shape[0] === n));
  if (!supported || (!transposeA && !transposeB && seenAsWeights(b)))
    return callStock(backend, '_FusedMatMul', inputs, attrs);
  const m = transposeA ? a.shape[a.shape.length - 1] : a.shape[a.shape.length - 2];
  const outer = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  return matMulSimd(backend, a, b, {
    transposeA,
    transposeB,
    outShape: [...outer, m, n],
    bias,
    relu: activation === 'relu',
  });
}

/** Past this size (bytes) the kernel packs b strip by strip (SMALL_B_BYTES in assembly/training-kernels.ts). */
const SMALL_B_BYTES = 256 << 10;

/**
 * op(a) · op(b) on our SIMD kernel (n divisible by 8). A transposed a is read in place (its
 * elements are taken one at a time); a transposed b is transposed first (the kernel reads b by
 * rows of 8). For the default net's dense products x·W, xᵀ·dy and dy·Wᵀ it beats XNNPACK, which
 * packs the weights afresh at each step (`npm run bench:kernels`).
 */
function matMulSimd(
  backend: BackendWasm,
  a: TensorInfo,
  b: TensorInfo,
  options: { transposeA: boolean; transposeB: boolean; outShape: number[]; bias?: TensorInfo; relu?: boolean },
): TensorInfo {
  const [rowsA, columnsA] = a.shape.slice(-2);
  const [m, k] = options.transposeA ? [columnsA, rowsA] : [rowsA, columnsA];
  const n = options.outShape[options.outShape.length - 1];
  const right = asMatrix(backend, b, options.transposeB);
  const out = backend.makeOutput(options.outShape, 'float32');
  const [aRow, aStep] = options.transposeA ? [4, 4 * m] : [4 * k, 4];
  const bias = options.bias ? addressOf(backend, options.bias) : 0;
  const packed = k * n * 4 > SMALL_B_BYTES ? backend.makeOutput([k * 8], 'float32') : undefined;
  simdKernels(backend).matMul(
    addressOf(backend, a),
    aRow,
    aStep,
    addressOf(backend, right),
    addressOf(backend, out),
    m,
    n,
    k,
    bias,
    options.relu ? 1 : 0,
    packed ? addressOf(backend, packed) : 0,
  );
  release(backend, right);
  if (packed) release(backend, packed);
  return out;
}

function multiplyAsMatrices(
  backend: BackendWasm,
  a: TensorInfo,
  b: TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
): TensorInfo {
  const left = asMatrix(backend, a, transposeA);
  const right = asMatrix(backend, b, transposeB);
  const product = matMul(backend, left, right);
  release(backend, left, right);
  return product;
}

/**
 * XNNPACK packs the right operand ([k, n]) afresh at every call, which costs more per value
 * than the product's own transposes. A dense layer's dy·Wᵀ ([m = batch, k] × [k, n = units
 * in]) packs the whole Wᵀ; (W·dyᵀ)ᵀ packs only dyᵀ. A/B in one process (one thread): the other
 * way round was faster for [64, 128] × [128, 1568] and [128, 128] × [128, 3136]. Below ~64 K
 * packed values the extra transposes cost more than they save.
 */
function packsLessTheOtherWay(m: number, k: number, n: number): boolean {
  return m < n && k * n >= 1 << 16;
}

/** a·b as (bᵀ·aᵀ)ᵀ: the right operand XNNPACK packs is then aᵀ, [k, m]. */
function multiplyTheOtherWay(
  backend: BackendWasm,
  a: TensorInfo,
  b: TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
): TensorInfo {
  const left = asMatrix(backend, b, !transposeB);
  const right = asMatrix(backend, a, !transposeA);
  const productT = matMul(backend, left, right);
  const product = transpose(backend, productT, [1, 0]);
  release(backend, left, right, productT);
  return product;
}

/** The shape each tensor (by data id) was first multiplied with as b: what XNNPACK cached. */
const shapeCachedAsWeights = new WeakMap<object, string>();

/** Whether b was multiplied as weights before, with the same shape (what XNNPACK cached). */
function seenAsWeights(b: TensorInfo): boolean {
  const cached = shapeCachedAsWeights.get(b.dataId);
  if (cached === undefined) {
    shapeCachedAsWeights.set(b.dataId, b.shape.slice(-2).join('x'));
    return false;
  }
  return cached === b.shape.slice(-2).join('x');
}

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

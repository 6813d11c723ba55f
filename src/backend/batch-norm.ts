import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { addressOf, simdKernels } from './simd.js';
import { BATCH_NORM_TRAINING_GRAD } from '../model/batch-norm-layer.js';
import { assertSupported, callStock, heapView, release, type TensorInfo } from './wasm-calls.js';

interface BatchNormArgs {
  inputs: { x: TensorInfo; mean: TensorInfo; variance: TensorInfo; offset?: TensorInfo; scale?: TensorInfo };
  backend: BackendWasm;
  attrs: tf.FusedBatchNormAttrs;
}

/**
 * Batch norm over the last axis as (x - mean) · (scale / √(variance + ε)) + offset: the
 * per-channel factor is computed once (c values), then three broadcast kernels run over x.
 * The stock kernel took nearly three times as long for a [128, 28, 28, 32] activation. Where the
 * channels divide by 4, our SIMD kernel does the three in one pass (batchNormRows, the same
 * operations in the same order). x - mean comes first, as on cpu, so a large mean does not
 * cancel away precision.
 */
export function batchNormOverChannels({ inputs, backend, attrs }: BatchNormArgs): TensorInfo {
  const { x, mean, variance, offset, scale } = inputs;
  const channels = x.shape[x.shape.length - 1];
  const perChannel = [mean, variance, offset, scale].every(
    (t) => t === undefined || t === null || (t.shape.length === 1 && t.shape[0] === channels),
  );
  const allFloat = [x, mean, variance, offset, scale].every(
    (t) => t === undefined || t === null || t.dtype === 'float32',
  );
  if (!perChannel || !allFloat || x.shape.length < 2 || channels === 0)
    return callStock(backend, 'FusedBatchNorm', inputs, attrs);
  const factor = backend.makeOutput([channels], 'float32');
  const factorValues = heapView(backend, factor);
  const varianceValues = heapView(backend, variance);
  const scaleValues = scale ? heapView(backend, scale) : undefined;
  for (let c = 0; c < channels; c++) {
    factorValues[c] = (scaleValues ? scaleValues[c] : 1) / Math.sqrt(varianceValues[c] + attrs.varianceEpsilon);
  }
  if (channels % 4 === 0 && x.shape.every((d) => d > 0)) {
    const out = backend.makeOutput(x.shape, 'float32');
    const at = (t: TensorInfo) => addressOf(backend, t);
    simdKernels(backend).batchNormRows(
      at(x),
      at(mean),
      at(factor),
      offset ? at(offset) : 0,
      at(out),
      x.shape.reduce((a, b) => a * b, 1),
      channels,
    );
    release(backend, factor);
    return out;
  }
  const centred = callStock(backend, 'Sub', { a: x, b: mean });
  const scaled = callStock(backend, 'Multiply', { a: centred, b: factor });
  release(backend, centred, factor);
  if (!offset) return scaled;
  const result = callStock(backend, 'Add', { a: scaled, b: offset });
  release(backend, scaled);
  return result;
}

interface BatchNormGradArgs {
  inputs: { x: TensorInfo; dy: TensorInfo; mean: TensorInfo; variance: TensorInfo; scale: TensorInfo };
  backend: BackendWasm;
  attrs: { varianceEpsilon: number };
}

/**
 * The kernel of model/batch-norm-layer.ts's fused gradient: [dx, dscale, doffset] of a training
 * batch norm over the last axis, from x, dy and the batch's mean and variance. Two passes over
 * the activations (SIMD where the channels divide by 4, plain loops otherwise) where tfjs's
 * composed gradient made some twenty.
 */
export function batchNormTrainingGrad({ inputs, backend, attrs }: BatchNormGradArgs): TensorInfo[] {
  const { x, dy, mean, variance, scale } = inputs;
  const c = x.shape[x.shape.length - 1];
  const size = x.shape.reduce((a, b) => a * b, 1);
  const rows = size / c;
  assertSupported(BATCH_NORM_TRAINING_GRAD, undefined, x, dy, mean, variance, scale);
  const dx = backend.makeOutput(x.shape, 'float32');
  const dScale = backend.makeOutput([c], 'float32');
  const dOffset = backend.makeOutput([c], 'float32');
  const sums = new Float32Array(2 * c);
  const simd = c % 4 === 0 && rows > 0;
  const at = (t: TensorInfo) => addressOf(backend, t);
  const kernels = simdKernels(backend);
  const factors = backend.makeOutput([3 * c], 'float32');
  if (simd) {
    const out = backend.makeOutput([2 * c], 'float32');
    kernels.batchNormGradSums(at(x), at(dy), at(mean), at(out), rows, c);
    sums.set(heapView(backend, out));
    release(backend, out);
  } else {
    const [xs, dys, means] = [x, dy, mean].map((t) => heapView(backend, t));
    for (let i = 0; i < size; i++) {
      const j = i % c;
      sums[j] += dys[i];
      sums[c + j] += dys[i] * (xs[i] - means[j]);
    }
  }
  // dx = γ/σ · (dy - Σdy/n - x̂ · Σ(dy · x̂)/n), x̂ = (x - mean)/σ: factors of dy, of x - mean, and a constant.
  const k = heapView(backend, factors);
  const [variances, scales, dScales, dOffsets] = [variance, scale, dScale, dOffset].map((t) => heapView(backend, t));
  for (let j = 0; j < c; j++) {
    const invStd = 1 / Math.sqrt(variances[j] + attrs.varianceEpsilon);
    const sumDy = sums[j];
    const sumDyCentred = sums[c + j];
    dOffsets[j] = sumDy;
    dScales[j] = sumDyCentred * invStd;
    k[j] = scales[j] * invStd;
    k[c + j] = (-scales[j] * invStd * invStd * invStd * sumDyCentred) / rows;
    k[2 * c + j] = (-scales[j] * invStd * sumDy) / rows;
  }
  if (simd) {
    kernels.batchNormGradRows(at(x), at(dy), at(mean), at(factors), at(dx), size, c);
  } else {
    const [xs, dys, means, dxs] = [x, dy, mean, dx].map((t) => heapView(backend, t));
    for (let i = 0; i < size; i++) {
      const j = i % c;
      dxs[i] = k[j] * dys[i] + k[c + j] * (xs[i] - means[j]) + k[2 * c + j];
    }
  }
  release(backend, factors);
  return [dx, dScale, dOffset];
}

import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import {
  addPatchesByPosition,
  fillPatchesByPosition,
  fillTapsShifted,
  tapsAreShifts,
  type PatchGeometry,
} from './patches.js';
import { addressOf, simdKernels } from './simd.js';
import { winogradApplies, winogradConv, winogradFilterGrad } from './winograd.js';
import {
  aliasAt,
  assertSupported,
  callStock,
  convExplicit,
  dropAlias,
  heapView,
  matMul,
  release,
  reshape,
  slice,
  transpose,
  type Shape4,
  type TensorInfo,
} from './wasm-calls.js';

/**
 * Convolution gradients for the wasm backend, written as forward convolutions and matMuls that
 * the backend runs fast (XNNPACK). The formulas, and why they live at the kernel level, are in
 * the shared note on wasm training.
 */

type Conv2DInfo = tf.backend_util.Conv2DInfo;
type Padding = tf.Conv2DBackpropFilterAttrs['pad'];

interface FilterGradArgs {
  inputs: { x: TensorInfo; dy: TensorInfo };
  backend: BackendWasm;
  attrs: tf.Conv2DBackpropFilterAttrs;
}

interface InputGradArgs {
  inputs: { dy: TensorInfo; filter: TensorInfo };
  backend: BackendWasm;
  attrs: tf.Conv2DBackpropInputAttrs;
}

function convGeometry(
  inShape: Shape4,
  filterShape: Shape4,
  strides: number | [number, number],
  pad: Padding,
  rounding?: 'floor' | 'round' | 'ceil',
): Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(inShape, filterShape, strides, 1, pad, rounding, false, 'channelsLast');
}

function assertOutputMatches(kernel: string, info: Conv2DInfo, dy: TensorInfo): void {
  const [n, h, w, c] = dy.shape;
  if (n !== info.batchSize || h !== info.outHeight || w !== info.outWidth || c !== info.outChannels) {
    throw new Error(`${kernel}: dy has shape [${dy.shape}], expected [${info.outShape}] for this convolution`);
  }
}

export function conv2DBackpropFilter({ inputs, backend, attrs }: FilterGradArgs): TensorInfo {
  const { x, dy } = inputs;
  assertSupported('Conv2DBackpropFilter', attrs.dataFormat, x, dy);
  const info = convGeometry(x.shape as Shape4, attrs.filterShape, attrs.strides, attrs.pad, attrs.dimRoundingMode);
  assertOutputMatches('Conv2DBackpropFilter', info, dy);
  if (winogradApplies(info)) return winogradFilterGrad(backend, x, dy, info);
  if (info.strideHeight === 1 && info.strideWidth === 1 && info.outChannels % 4 === 0)
    return filterGradSimd(backend, x, dy, info);
  if (tapsAreShifts(patchGeometry(info)) && info.inChannels <= MAX_CHANNELS_FOR_TAPS)
    return filterGradFromTaps(backend, x, dy, info);
  return hasFewInputChannels(info)
    ? filterGradFromPatches(backend, x, dy, info)
    : filterGradByConvolution(backend, x, dy, info);
}

/**
 * dW in one pass of our SIMD kernel over each image (padded into a scratch image first): dy and
 * the padded image are read in place, no patches are written and nothing is packed.
 */
function filterGradSimd(backend: BackendWasm, x: TensorInfo, dy: TensorInfo, info: Conv2DInfo): TensorInfo {
  const { filterHeight: kh, filterWidth: kw, inChannels: cin, outChannels: cout, outHeight: oh, outWidth: ow } = info;
  const pad = backend.makeOutput([(oh + kh - 1) * (ow + kw - 1) * cin], 'float32');
  const result = backend.makeOutput(info.filterShape, 'float32');
  heapView(backend, result).fill(0);
  const at = (t: TensorInfo) => addressOf(backend, t);
  simdKernels(backend).convFilterGrad(
    at(x),
    at(dy),
    at(result),
    at(pad),
    0,
    info.batchSize,
    info.inHeight,
    info.inWidth,
    cin,
    oh,
    ow,
    cout,
    kh,
    kw,
    info.padInfo.top,
    info.padInfo.left,
  );
  release(backend, pad);
  return result;
}

/**
 * Up to here the taps form beat the convolution in every shape measured (1, 16 and 32 input
 * channels); wider layers were not measured and keep the convolution.
 */
const MAX_CHANNELS_FOR_TAPS = 32;

/**
 * Patches per chunk of images ([kh·kw·cin, images·oh·ow]) of about this many floats: ~2 MB, so
 * that a chunk and the dy rows it meets stay in cache while XNNPACK packs and multiplies them.
 */
const TAP_CHUNK_FLOATS = 1 << 19;

/**
 * dW [kh·kw·cin, cout] = Σ over chunks of images: patchesᵀ [kh·kw·cin, positions] · dy
 * [positions, cout], for stride-1 'same' convolutions. The patches come tap by tap as shifted
 * block copies (fillTapsShifted) of x seen as [cin, n, h, w]; dy is used in place, a chunk at a
 * time, as the matMul's right operand. XNNPACK packs that operand afresh at every call, at a
 * cost that grows faster than its size (a whole [25088, 64] dy was slow to pack; in 16 chunks,
 * 16 fresh products ran as fast as 16 with the operand cached), hence the chunks. The product
 * comes out in the filter's own [kh, kw, cin, cout] order: no transposes of dy or of the result.
 * A/B in one process (one thread, CPU time, alternating runs): faster than the convolution at
 * every layer of the default and compact nets (1→32, 32→64, 16→32), and than patch rows
 * (filterGradFromPatches) on their 1-channel first layers. Bench: `npm run bench:kernels`.
 */
function filterGradFromTaps(backend: BackendWasm, x: TensorInfo, dy: TensorInfo, info: Conv2DInfo): TensorInfo {
  const geometry = patchGeometry(info);
  const columns = info.filterHeight * info.filterWidth * info.inChannels;
  const pixels = info.outHeight * info.outWidth;
  const chunk = Math.max(1, Math.min(info.batchSize, Math.floor(TAP_CHUNK_FLOATS / (columns * pixels))));
  const xT = info.inChannels === 1 ? reshape(backend, x, x.shape) : transpose(backend, x, [3, 0, 1, 2]);
  const patches = backend.makeOutput([columns, chunk * pixels], 'float32');
  const result = backend.makeOutput(info.filterShape, 'float32');
  heapView(backend, result).fill(0);
  for (let first = 0; first < info.batchSize; first += chunk) {
    const count = Math.min(chunk, info.batchSize - first);
    const patchesNow = count === chunk ? patches : aliasAt(backend, patches, [columns, count * pixels]);
    const dyNow = aliasAt(backend, dy, [count * pixels, info.outChannels], first * pixels * info.outChannels);
    fillTapsShifted(heapView(backend, xT), geometry, info.inChannels, first, count, heapView(backend, patchesNow));
    const product = matMul(backend, patchesNow, dyNow);
    // Views only now: the matMul's output may have grown the heap and detached older views.
    const sum = heapView(backend, result);
    const part = heapView(backend, product);
    for (let i = 0; i < sum.length; i++) sum[i] += part[i];
    release(backend, product);
    dropAlias(backend, dyNow);
    if (patchesNow !== patches) dropAlias(backend, patchesNow);
  }
  release(backend, xT, patches);
  return result;
}

/**
 * Fewer patch columns (kh·kw·cin) than output channels, as in a first layer on 1-channel
 * images: there, patches and a matMul beat a convolution, which XNNPACK runs poorly with so
 * few channels on one side.
 */
function hasFewInputChannels(info: Conv2DInfo): boolean {
  return info.filterHeight * info.filterWidth * info.inChannels < info.outChannels;
}

/**
 * dWᵀ = dyᵀ [cout, positions] · patches [positions, kh·kw·cin], for inputs with few channels
 * where the taps form does not apply (strides, 'valid' padding). For a 1-channel 28x28 first
 * layer it ran about twice as fast as a convolution at batch 128. The matMul runs on
 * XNNPACK, whose cost here is mostly packing its right-hand operand afresh each step; that is
 * why this form is used only when the patches are narrower than dy.
 */
function filterGradFromPatches(backend: BackendWasm, x: TensorInfo, dy: TensorInfo, info: Conv2DInfo): TensorInfo {
  const columns = info.filterHeight * info.filterWidth * info.inChannels;
  const pixels = info.outHeight * info.outWidth;
  const positions = info.batchSize * pixels;
  const patches = backend.makeOutput([positions, columns], 'float32');
  fillPatchesByPosition(heapView(backend, x), patchGeometry(info), info.inChannels, heapView(backend, patches));
  // A rank-3 transpose: the backend's rank-2 one runs several times slower on this shape.
  const dy3 = reshape(backend, dy, [info.batchSize, pixels, info.outChannels]);
  const dyT3 = transpose(backend, dy3, [2, 0, 1]);
  const dyT = reshape(backend, dyT3, [info.outChannels, positions]);
  const productT = matMul(backend, dyT, patches);
  const product = transpose(backend, productT, [1, 0]);
  const result = reshape(backend, product, info.filterShape);
  release(backend, patches, dy3, dyT3, dyT, productT, product);
  return result;
}

function patchGeometry(info: Conv2DInfo): PatchGeometry {
  return {
    batch: info.batchSize,
    inHeight: info.inHeight,
    inWidth: info.inWidth,
    outHeight: info.outHeight,
    outWidth: info.outWidth,
    filterHeight: info.filterHeight,
    filterWidth: info.filterWidth,
    strideHeight: info.strideHeight,
    strideWidth: info.strideWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  };
}

/**
 * dW[ky, kx, ci, co] = Σ x[n, y·s + ky, x·s + kx, ci] · dy[n, y, x, co]: a convolution of the
 * input seen as [ci, h, w, n] with dy seen as an [oh, ow, n, co] filter dilated by the stride,
 * under the forward padding. A stride that leaves unused rows makes the result larger than
 * the filter; the extra taps are cut off.
 */
export function filterGradByConvolution(
  backend: BackendWasm,
  x: TensorInfo,
  dy: TensorInfo,
  info: Conv2DInfo,
): TensorInfo {
  const { top, bottom, left, right } = info.padInfo;
  const xT = transpose(backend, x, [3, 1, 2, 0]);
  const dyT = transpose(backend, dy, [1, 2, 0, 3]);
  const full = convExplicit(backend, xT, dyT, [top, bottom, left, right], [info.strideHeight, info.strideWidth]);
  release(backend, xT, dyT);
  const [cin, rows, cols, cout] = full.shape;
  let taps = full;
  if (rows !== info.filterHeight || cols !== info.filterWidth) {
    taps = slice(backend, full, [0, 0, 0, 0], [cin, info.filterHeight, info.filterWidth, cout]);
    release(backend, full);
  }
  const result = transpose(backend, taps, [1, 2, 0, 3]);
  release(backend, taps);
  return result;
}

export function conv2DBackpropInput({ inputs, backend, attrs }: InputGradArgs): TensorInfo {
  const { dy, filter } = inputs;
  assertSupported('Conv2DBackpropInput', attrs.dataFormat, dy, filter);
  const info = convGeometry(attrs.inputShape, filter.shape as Shape4, attrs.strides, attrs.pad, attrs.dimRoundingMode);
  assertOutputMatches('Conv2DBackpropInput', info, dy);
  if (inputGradByWinograd(info)) {
    const geometry = {
      outShape: info.inShape,
      inChannels: info.outChannels,
      padTop: 2 - info.padInfo.top,
      padLeft: 2 - info.padInfo.left,
    };
    return winogradConv(backend, dy, filter, geometry, { flipped: true });
  }
  if (hasFewInputChannels(info)) return inputGradFromPatches(backend, dy, filter, info);
  if (info.padInfo.top > info.filterHeight - 1 || info.padInfo.left > info.filterWidth - 1) {
    // Padding wider than the filter would need negative padding below; rare enough for the stock kernel.
    return callStock(backend, 'Conv2DBackpropInput', inputs, attrs);
  }
  return inputGradByConvolution(backend, dy, filter, info);
}

/**
 * The input gradient is a 3x3 stride-1 convolution of dy (its channels in, x's out) with the
 * flipped filter: Winograd when that convolution fits it.
 */
function inputGradByWinograd(info: Conv2DInfo): boolean {
  const swapped = { ...info, inChannels: info.outChannels, outChannels: info.inChannels };
  return winogradApplies(swapped);
}

/**
 * dx = dy (zeros inserted between rows and columns for stride s) padded by k - 1 - p and
 * convolved with the filter flipped in space and with its channel axes swapped.
 */
export function inputGradByConvolution(
  backend: BackendWasm,
  dy: TensorInfo,
  filter: TensorInfo,
  info: Conv2DInfo,
): TensorInfo {
  const { top, left } = info.padInfo;
  const flipped = callStock(backend, 'Reverse', { x: filter }, { dims: [0, 1] });
  const swapped = transpose(backend, flipped, [0, 1, 3, 2]);
  release(backend, flipped);
  const dilated = insertStrideZeros(backend, dy, info.strideHeight, info.strideWidth);
  const padTop = info.filterHeight - 1 - top;
  const padLeft = info.filterWidth - 1 - left;
  const padBottom = info.inHeight + top - dilated.shape[1];
  const padRight = info.inWidth + left - dilated.shape[2];
  const full = convExplicit(backend, dilated, swapped, [
    padTop,
    Math.max(0, padBottom),
    padLeft,
    Math.max(0, padRight),
  ]);
  release(backend, swapped, dilated);
  if (padBottom >= 0 && padRight >= 0) return full;
  // The zeros after the last row or column reached past the input: drop the extra outputs.
  const result = slice(backend, full, [0, 0, 0, 0], info.inShape);
  release(backend, full);
  return result;
}

/**
 * dx = col2im(dy · Wᵀ): the patch gradients [positions, kh·kw·cin] from one matMul, then added
 * back onto the pixels they were read from. tfjs' fused conv2d computes the input gradient even
 * for the first layer, where it goes unused: several times faster this way than as a
 * convolution with a 1-channel output at batch 128.
 */
function inputGradFromPatches(backend: BackendWasm, dy: TensorInfo, filter: TensorInfo, info: Conv2DInfo): TensorInfo {
  const columns = info.filterHeight * info.filterWidth * info.inChannels;
  const positions = info.batchSize * info.outHeight * info.outWidth;
  const dy2 = reshape(backend, dy, [positions, info.outChannels]);
  const w2 = reshape(backend, filter, [columns, info.outChannels]);
  const wT = transpose(backend, w2, [1, 0]);
  const patchGrads = matMul(backend, dy2, wT);
  const dx = backend.makeOutput(info.inShape, 'float32');
  const dxValues = heapView(backend, dx);
  dxValues.fill(0);
  addPatchesByPosition(heapView(backend, patchGrads), patchGeometry(info), info.inChannels, dxValues);
  release(backend, dy2, w2, wT, patchGrads);
  return dx;
}

/** [n, h, w, c] → [n, h·sh, w·sw, c] with dy at every stride-th position and zeros between. */
function insertStrideZeros(backend: BackendWasm, dy: TensorInfo, sh: number, sw: number): TensorInfo {
  if (sh === 1 && sw === 1) return reshape(backend, dy, dy.shape);
  const [n, h, w, c] = dy.shape;
  const spread = reshape(backend, dy, [n, h, 1, w, 1, c]);
  const paddings = [
    [0, 0],
    [0, 0],
    [0, sh - 1],
    [0, 0],
    [0, sw - 1],
    [0, 0],
  ];
  const padded = callStock(backend, 'PadV2', { x: spread }, { paddings, constantValue: 0 });
  const result = reshape(backend, padded, [n, h * sh, w * sw, c]);
  release(backend, spread, padded);
  return result;
}

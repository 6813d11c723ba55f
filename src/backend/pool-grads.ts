import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { addressOf, simdKernels } from './simd.js';
import { heapView, assertSupported, type Shape4, type TensorInfo } from './wasm-calls.js';

interface MaxPoolGradArgs {
  inputs: { dy: TensorInfo; input: TensorInfo; output: TensorInfo };
  backend: BackendWasm;
  attrs: tf.MaxPoolGradAttrs;
}

/**
 * Max-pool gradient as one pass over the input in wasm memory: each window's gradient goes to
 * its first maximum in row-major order, as the cpu backend does (so ties match it exactly).
 * The stock wasm kernel was several times slower for a [128, 28, 28, 32] input than a first JS
 * loop, which was about as fast as the upsample-compare-multiply formulation (that one mishandles
 * ties); the loop for the usual 2x2 tiling (routeGradientInTwoByTwoTiles) is faster still, and
 * our SIMD kernel (maxPoolGrad2x2, the same routing four channels at a time) where the channels
 * divide by 4. Bench: `npm run bench:kernels`.
 */
export function maxPoolGrad({ inputs, backend, attrs }: MaxPoolGradArgs): TensorInfo {
  const { dy, input, output } = inputs;
  assertSupported('MaxPoolGrad', undefined, dy, input, output);
  const info = tf.backend_util.computePool2DInfo(
    input.shape as Shape4,
    attrs.filterSize,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const [n, oh, ow, c] = dy.shape;
  if (n !== info.batchSize || oh !== info.outHeight || ow !== info.outWidth || c !== info.outChannels) {
    throw new Error(`MaxPoolGrad: dy has shape [${dy.shape}], expected [${info.outShape}] for this pooling`);
  }
  if (output.shape.join() !== dy.shape.join()) {
    throw new Error(`MaxPoolGrad: the pooled output has shape [${output.shape}], expected dy's [${dy.shape}]`);
  }
  const dx = backend.makeOutput(input.shape, 'float32');
  if (isTwoByTwoTiling(info) && info.inChannels % 4 === 0) {
    const at = (t: TensorInfo) => addressOf(backend, t);
    simdKernels(backend).maxPoolGrad2x2(
      at(input),
      at(output),
      at(dy),
      at(dx),
      n,
      info.inHeight,
      info.inWidth,
      c,
      oh,
      ow,
    );
  } else if (isTwoByTwoTiling(info)) {
    routeGradientInTwoByTwoTiles(
      heapView(backend, input),
      heapView(backend, output),
      heapView(backend, dy),
      heapView(backend, dx),
      info,
    );
  } else {
    routeGradientToMaxima(heapView(backend, input), heapView(backend, dy), heapView(backend, dx), info);
  }
  return dx;
}

/** The usual 2x2, stride-2, unpadded pool: windows tile the input, so no accumulation is needed. */
function isTwoByTwoTiling(info: tf.backend_util.Conv2DInfo): boolean {
  return (
    info.filterHeight === 2 &&
    info.filterWidth === 2 &&
    info.strideHeight === 2 &&
    info.strideWidth === 2 &&
    info.padInfo.top === 0 &&
    info.padInfo.left === 0 &&
    2 * info.outHeight <= info.inHeight &&
    2 * info.outWidth <= info.inWidth
  );
}

/**
 * dx zeroed in one fill (a memset), then each window's gradient written once, at the first of
 * its four inputs that equals the pooled output y (the forward kernel returns one of them
 * exactly): one read of y and on average under three of x, against four reads of x, three
 * comparisons and four writes of dx per window before. A/B in one process (one thread, CPU
 * time): faster at each pooled shape of the default and compact nets ([128, 28, 28, 32],
 * [128, 14, 14, 64], [64, 28, 28, 16]).
 * A window where no input equals y (a NaN, or a y not from this input) falls back to the
 * first maximum by comparison.
 */
function routeGradientInTwoByTwoTiles(
  x: Float32Array,
  y: Float32Array,
  dy: Float32Array,
  dx: Float32Array,
  info: tf.backend_util.Conv2DInfo,
): void {
  const { batchSize, inHeight, inWidth, outHeight, outWidth, inChannels: channels } = info;
  // Also zeroes an odd row or column at the end, which belongs to no window.
  dx.fill(0);
  const rowStride = inWidth * channels;
  const diagonal = rowStride + channels;
  let g = 0;
  for (let b = 0; b < batchSize; b++) {
    for (let oy = 0; oy < outHeight; oy++) {
      let a = (b * inHeight + 2 * oy) * rowStride; // top-left of the window, channel 0
      for (let ox = 0; ox < outWidth; ox++, a += 2 * channels) {
        const end = a + channels;
        for (let i = a; i < end; i++, g++) {
          const m = y[g];
          let at: number;
          if (x[i] === m) at = i;
          else if (x[i + channels] === m) at = i + channels;
          else if (x[i + rowStride] === m) at = i + rowStride;
          else if (x[i + diagonal] === m) at = i + diagonal;
          else at = firstMaximumOfFour(x, i, channels, rowStride);
          dx[at] = dy[g];
        }
      }
    }
  }
}

/** Where the first maximum of a 2x2 window sits, by comparison (row-major order wins ties). */
function firstMaximumOfFour(x: Float32Array, i: number, channels: number, rowStride: number): number {
  let at = i;
  for (const j of [i + channels, i + rowStride, i + rowStride + channels]) if (x[j] > x[at]) at = j;
  return at;
}

function routeGradientToMaxima(
  x: Float32Array,
  dy: Float32Array,
  dx: Float32Array,
  info: tf.backend_util.Conv2DInfo,
): void {
  const { batchSize, inHeight, inWidth, outHeight, outWidth, inChannels: channels } = info;
  const { strideHeight, strideWidth, filterHeight, filterWidth } = info;
  const { top, left } = info.padInfo;
  const best = new Float32Array(channels);
  const bestAt = new Int32Array(channels);
  dx.fill(0);
  for (let b = 0; b < batchSize; b++) {
    for (let oy = 0; oy < outHeight; oy++) {
      const y0 = Math.max(0, oy * strideHeight - top);
      const y1 = Math.min(inHeight, oy * strideHeight - top + filterHeight);
      for (let ox = 0; ox < outWidth; ox++) {
        const x0 = Math.max(0, ox * strideWidth - left);
        const x1 = Math.min(inWidth, ox * strideWidth - left + filterWidth);
        best.fill(-Infinity);
        bestAt.fill(-1);
        // Taps outside, channels inside: the channel loop walks contiguous memory.
        for (let iy = y0; iy < y1; iy++) {
          for (let ix = x0; ix < x1; ix++) {
            const base = ((b * inHeight + iy) * inWidth + ix) * channels;
            for (let ch = 0; ch < channels; ch++) {
              const v = x[base + ch];
              if (v > best[ch]) {
                best[ch] = v;
                bestAt[ch] = base + ch;
              }
            }
          }
        }
        const dyBase = ((b * outHeight + oy) * outWidth + ox) * channels;
        for (let ch = 0; ch < channels; ch++) {
          if (bestAt[ch] >= 0) dx[bestAt[ch]] += dy[dyBase + ch];
        }
      }
    }
  }
}

import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { addressOf, simdKernels } from './simd.js';
import { callStock, heapView, release, type Shape4, type TensorInfo } from './wasm-calls.js';

/**
 * 3x3 stride-1 convolutions through Winograd F(2x2, 3x3) on our SIMD kernels
 * (assembly/training-kernels.ts): 16 multiplications per 2x2 output tile and channel pair
 * instead of 36, for the forward pass (Conv2D, FusedConv2D with no activation or ReLU), the
 * input gradient (the forward convolution of dy with the flipped filter) and the filter
 * gradient. Where a shape does not fit (another kernel size, stride or dilation, channels not
 * divisible by 4 in or 8 out), the callers keep their other paths.
 */
type Conv2DInfo = tf.backend_util.Conv2DInfo;

/** Whether a convolution of this geometry runs through Winograd. */
export function winogradApplies(info: Conv2DInfo): boolean {
  return (
    info.filterHeight === 3 &&
    info.filterWidth === 3 &&
    info.strideHeight === 1 &&
    info.strideWidth === 1 &&
    info.dilationHeight === 1 &&
    info.dilationWidth === 1 &&
    info.inChannels % 4 === 0 &&
    info.outChannels % 8 === 0 &&
    info.padInfo.top <= 2 &&
    info.padInfo.left <= 2 &&
    info.dataFormat === 'channelsLast'
  );
}

function scratchFor(backend: BackendWasm, oh: number, ow: number, cin: number, cout: number): TensorInfo {
  const bytes = simdKernels(backend).winogradScratchBytes(oh, ow, cin, cout);
  return backend.makeOutput([bytes / 4], 'float32');
}

/**
 * y = conv(x, filter) (+ bias) (then ReLU), x [n, h, w, cin], filter [3, 3, cin, cout].
 * `flipped`: the filter is [3, 3, cout, cin] and used flipped with its channel axes swapped
 * (the input gradient's convolution).
 */
export function winogradConv(
  backend: BackendWasm,
  x: TensorInfo,
  filter: TensorInfo,
  geometry: { outShape: Shape4; inChannels: number; padTop: number; padLeft: number },
  options: { flipped?: boolean; bias?: TensorInfo; relu?: boolean } = {},
): TensorInfo {
  const kernels = simdKernels(backend);
  const [n, h, w] = x.shape;
  const [, oh, ow, cout] = geometry.outShape;
  const cin = geometry.inChannels;
  const u = backend.makeOutput([16, cin, cout], 'float32');
  const scratch = scratchFor(backend, oh, ow, cin, cout);
  const out = backend.makeOutput(geometry.outShape, 'float32');
  const at = (t: TensorInfo) => addressOf(backend, t);
  kernels.winogradFilter(at(filter), at(u), cin, cout, options.flipped ? 1 : 0);
  const bias = options.bias ? at(options.bias) : 0;
  kernels.winogradConv(
    at(x),
    at(u),
    bias,
    at(out),
    at(scratch),
    n,
    h,
    w,
    cin,
    oh,
    ow,
    cout,
    geometry.padTop,
    geometry.padLeft,
    options.relu ? 1 : 0,
  );
  release(backend, u, scratch);
  return out;
}

/** dW [3, 3, cin, cout] of a convolution for which winogradApplies(info). */
export function winogradFilterGrad(backend: BackendWasm, x: TensorInfo, dy: TensorInfo, info: Conv2DInfo): TensorInfo {
  const kernels = simdKernels(backend);
  const { inChannels: cin, outChannels: cout, outHeight: oh, outWidth: ow } = info;
  const du = backend.makeOutput([16, cin, cout], 'float32');
  heapView(backend, du).fill(0);
  const scratch = scratchFor(backend, oh, ow, cin, cout);
  const result = backend.makeOutput(info.filterShape, 'float32');
  const at = (t: TensorInfo) => addressOf(backend, t);
  kernels.winogradFilterGrad(
    at(x),
    at(dy),
    at(du),
    at(scratch),
    0,
    info.batchSize,
    info.inHeight,
    info.inWidth,
    cin,
    oh,
    ow,
    cout,
    info.padInfo.top,
    info.padInfo.left,
  );
  kernels.winogradFilterGradOut(at(du), at(result), cin, cout);
  release(backend, du, scratch);
  return result;
}

interface ConvArgs {
  inputs: { x: TensorInfo; filter: TensorInfo; bias?: TensorInfo; preluActivationWeights?: TensorInfo };
  backend: BackendWasm;
  attrs: tf.FusedConv2DAttrs;
}

/**
 * The Conv2D and FusedConv2D kernels: Winograd where it applies (with a bias of one value per
 * channel, and no activation or ReLU), the stock kernel (XNNPACK) otherwise.
 */
export function conv2DForward(kernelName: 'Conv2D' | 'FusedConv2D') {
  return ({ inputs, backend, attrs }: ConvArgs): TensorInfo => {
    const { x, filter, bias, preluActivationWeights } = inputs;
    const activation = attrs.activation ?? 'linear';
    const supported =
      x.dtype === 'float32' &&
      filter.dtype === 'float32' &&
      (attrs.dataFormat ?? 'NHWC') === 'NHWC' &&
      x.shape.length === 4 &&
      !preluActivationWeights &&
      (activation === 'linear' || activation === 'relu') &&
      (!bias || (bias.dtype === 'float32' && bias.shape.length === 1 && bias.shape[0] === filter.shape[3]));
    if (supported) {
      const info = tf.backend_util.computeConv2DInfo(
        x.shape as Shape4,
        filter.shape as Shape4,
        attrs.strides,
        attrs.dilations ?? 1,
        attrs.pad,
        attrs.dimRoundingMode,
        false,
        'channelsLast',
      );
      if (winogradApplies(info)) {
        return winogradConv(
          backend,
          x,
          filter,
          {
            outShape: info.outShape,
            inChannels: info.inChannels,
            padTop: info.padInfo.top,
            padLeft: info.padInfo.left,
          },
          { bias, relu: activation === 'relu' },
        );
      }
    }
    return callStock(backend, kernelName, inputs, attrs);
  };
}

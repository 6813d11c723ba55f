import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { filterGradByConvolution } from '../../src/backend/conv-grads.js';
import { createRng } from '../../src/util/rng.js';
import { on, pick, randomValues, relativeError } from '../helpers/backend-compare.js';

const TOLERANCE = 1e-4;

interface ConvCase {
  batch: number;
  size: number;
  kernel: number;
  inChannels: number;
  outChannels: number;
  stride: 1 | 2;
  pad: 'same' | 'valid';
}

/** Gradients of Σ conv(x, w) · r (r random), as the engine computes them: both kernels run. */
function convGradients(c: ConvCase, x: Float32Array, w: Float32Array, r: Float32Array, fused: boolean): tf.Tensor[] {
  const xs = tf.tensor4d(x, [c.batch, c.size, c.size, c.inChannels]);
  const ws = tf.tensor4d(w, [c.kernel, c.kernel, c.inChannels, c.outChannels]);
  const bias = tf.zeros([c.outChannels]);
  const forward = (a: tf.Tensor, b: tf.Tensor) => {
    const [a4, b4] = [a as tf.Tensor4D, b as tf.Tensor4D];
    const y = fused
      ? tf.fused.conv2d({ x: a4, filter: b4, strides: c.stride, pad: c.pad, bias })
      : tf.conv2d(a4, b4, c.stride, c.pad);
    return tf.sum(tf.mul(y, tf.tensor(r, y.shape)));
  };
  const grads = tf.grads(forward)([xs, ws]);
  tf.dispose([xs, ws, bias]);
  return grads;
}

function outSize(c: ConvCase): number {
  return c.pad === 'same' ? Math.ceil(c.size / c.stride) : Math.floor((c.size - c.kernel) / c.stride) + 1;
}

async function assertMatchesCpu(c: ConvCase, seed: number, fused = false): Promise<void> {
  const rng = createRng(seed);
  const x = randomValues(rng, c.batch * c.size * c.size * c.inChannels);
  const w = randomValues(rng, c.kernel * c.kernel * c.inChannels * c.outChannels);
  const o = outSize(c);
  const r = randomValues(rng, c.batch * o * o * c.outChannels);
  const [dxWasm, dwWasm] = await on('wasm', () => convGradients(c, x, w, r, fused));
  const [dxCpu, dwCpu] = await on('cpu', () => convGradients(c, x, w, r, fused));
  const label = JSON.stringify(c);
  assert.ok(
    relativeError(dxWasm, dxCpu) <= TOLERANCE,
    `input gradient ${label}: relative error ${relativeError(dxWasm, dxCpu)}`,
  );
  assert.ok(
    relativeError(dwWasm, dwCpu) <= TOLERANCE,
    `filter gradient ${label}: relative error ${relativeError(dwWasm, dwCpu)}`,
  );
}

test('conv gradients match cpu for every stride, padding and kernel size', async () => {
  let seed = 1;
  for (const stride of [1, 2] as const) {
    for (const pad of ['same', 'valid'] as const) {
      for (const kernel of [1, 3, 5]) {
        for (const inChannels of [1, 3]) {
          await assertMatchesCpu({ batch: 2, size: 9, kernel, inChannels, outChannels: 4, stride, pad }, seed++);
        }
      }
    }
  }
});

test('conv gradients match cpu on random shapes (batch 1..128, channels 1..64)', async () => {
  const rng = createRng(20261124);
  for (let i = 0; i < 12; i++) {
    const kernel = pick(rng, [1, 3, 5]);
    const big = rng.next() < 0.25; // a few cases with many channels, kept spatially small for cpu
    const c: ConvCase = {
      batch: pick(rng, [1, 2, 3, 5, 8]),
      size: kernel + rng.int(big ? 3 : 10),
      kernel,
      inChannels: big ? pick(rng, [32, 64]) : 1 + rng.int(8),
      outChannels: big ? pick(rng, [32, 64]) : 1 + rng.int(8),
      stride: pick(rng, [1, 2] as const),
      pad: pick(rng, ['same', 'valid'] as const),
    };
    await assertMatchesCpu(c, rng.seed());
  }
  await assertMatchesCpu({ batch: 128, size: 6, kernel: 3, inChannels: 1, outChannels: 8, stride: 1, pad: 'same' }, 7);
  await assertMatchesCpu({ batch: 128, size: 5, kernel: 3, inChannels: 4, outChannels: 6, stride: 2, pad: 'valid' }, 8);
});

test('every formulation of the filter and input gradients (taps, patch rows, convolution) matches cpu', async () => {
  let seed = 30;
  for (const stride of [1, 2] as const) {
    for (const pad of ['same', 'valid'] as const) {
      // Stride 1 'same': the filter gradient by taps. Otherwise 9 and 18 patch columns < 32 and
      // 24 output channels: patch rows; 5·5·3 = 75 columns > 16 output channels: convolution.
      await assertMatchesCpu({ batch: 16, size: 10, kernel: 3, inChannels: 1, outChannels: 32, stride, pad }, seed++);
      await assertMatchesCpu({ batch: 4, size: 9, kernel: 3, inChannels: 2, outChannels: 24, stride, pad }, seed++);
      await assertMatchesCpu({ batch: 4, size: 9, kernel: 5, inChannels: 3, outChannels: 16, stride, pad }, seed++);
    }
  }
});

test('the filter gradient by taps matches cpu: kernels 1 to 5 (even ones pad unevenly), batch 1, up to 32 channels, several chunks with a short last one', async () => {
  let seed = 50;
  for (const kernel of [1, 2, 3, 4, 5]) {
    await assertMatchesCpu(
      { batch: 1, size: 6, kernel, inChannels: 1, outChannels: 3, stride: 1, pad: 'same' },
      seed++,
    );
    await assertMatchesCpu(
      { batch: 3, size: 5, kernel, inChannels: 16, outChannels: 4, stride: 1, pad: 'same' },
      seed++,
    );
  }
  // A filter wider than the image: some taps see only padding.
  await assertMatchesCpu(
    { batch: 2, size: 2, kernel: 5, inChannels: 2, outChannels: 3, stride: 1, pad: 'same' },
    seed++,
  );
  // 5·5·32 columns · 8·8 pixels: 10 images per chunk, so 13 images run as 10 + 3.
  await assertMatchesCpu(
    { batch: 13, size: 8, kernel: 5, inChannels: 32, outChannels: 8, stride: 1, pad: 'same' },
    seed++,
  );
  // The first layer of the nets: 74 1-channel 28x28 images per chunk, so 77 run as 74 + 3.
  await assertMatchesCpu(
    { batch: 77, size: 28, kernel: 3, inChannels: 1, outChannels: 8, stride: 1, pad: 'same' },
    seed++,
  );
  // 33 input channels: past the taps' limit, the convolution.
  await assertMatchesCpu(
    { batch: 2, size: 5, kernel: 3, inChannels: 33, outChannels: 4, stride: 1, pad: 'same' },
    seed,
  );
});

test('the convolution formulation of the filter gradient, called directly, matches cpu (incl. strides leaving unused rows)', async () => {
  const rng = createRng(40);
  for (const [stride, pad, kernel, size] of [
    [1, 'same', 3, 9],
    [2, 'same', 3, 9],
    [2, 'valid', 3, 10],
    [1, 'valid', 5, 8],
    [2, 'same', 1, 7],
  ] as const) {
    const xShape: [number, number, number, number] = [3, size, size, 4];
    const filterShape: [number, number, number, number] = [kernel, kernel, 4, 5];
    const info = tf.backend_util.computeConv2DInfo(xShape, filterShape, stride, 1, pad);
    const x = randomValues(rng, 3 * size * size * 4);
    const dy = randomValues(rng, 3 * info.outHeight * info.outWidth * 5);
    const [viaConvolution] = await on('wasm', () => {
      const xs = tf.tensor4d(x, xShape);
      const dys = tf.tensor4d(dy, [3, info.outHeight, info.outWidth, 5]);
      const out = filterGradByConvolution(tf.backend() as BackendWasm, xs, dys, info);
      tf.dispose([xs, dys]);
      return [tf.engine().makeTensorFromTensorInfo(out)];
    });
    const [cpu] = await on('cpu', () => [
      tf
        .engine()
        .runKernel(
          'Conv2DBackpropFilter',
          { x: tf.tensor4d(x, xShape), dy: tf.tensor4d(dy, [3, info.outHeight, info.outWidth, 5]) },
          { strides: stride, pad, dataFormat: 'NHWC', filterShape },
        ) as tf.Tensor,
    ]);
    const error = relativeError(viaConvolution, cpu);
    assert.ok(error <= TOLERANCE, `stride ${stride} ${pad} k${kernel}: relative error ${error}`);
  }
});

test('the fused conv2d path (linear activation, bias) reaches our kernels and matches cpu', async () => {
  await assertMatchesCpu(
    { batch: 3, size: 8, kernel: 3, inChannels: 1, outChannels: 5, stride: 1, pad: 'same' },
    11,
    true,
  );
  await assertMatchesCpu(
    { batch: 3, size: 8, kernel: 3, inChannels: 4, outChannels: 5, stride: 2, pad: 'valid' },
    12,
    true,
  );
});

test('input gradient where the stride leaves a trailing zero row past the input (k=1, s=2, odd size)', async () => {
  await assertMatchesCpu({ batch: 2, size: 7, kernel: 1, inChannels: 3, outChannels: 2, stride: 2, pad: 'valid' }, 21);
  await assertMatchesCpu({ batch: 2, size: 7, kernel: 1, inChannels: 1, outChannels: 2, stride: 2, pad: 'same' }, 22);
});

test('explicit padding wider than the filter falls back to the stock input-gradient kernel', async () => {
  const rng = createRng(5);
  const dy = randomValues(rng, 2 * 6 * 6 * 3);
  const w = randomValues(rng, 3 * 3 * 2 * 3);
  const attrs = {
    strides: 1,
    pad: [
      [0, 0],
      [3, 0],
      [3, 0],
      [0, 0],
    ],
    dataFormat: 'NHWC',
    inputShape: [2, 5, 5, 2],
  };
  const run = () => [
    tf
      .engine()
      .runKernel(
        'Conv2DBackpropInput',
        { dy: tf.tensor4d(dy, [2, 6, 6, 3]), filter: tf.tensor4d(w, [3, 3, 2, 3]) },
        attrs,
      ) as tf.Tensor,
  ];
  const [wasm] = await on('wasm', run);
  const [cpu] = await on('cpu', run);
  assert.ok(relativeError(wasm, cpu) <= TOLERANCE);
});

test('NCHW data is rejected with a message naming the kernel and the format', async () => {
  await on('wasm', () => []);
  const x = tf.zeros([1, 4, 4, 1]);
  const dy = tf.zeros([1, 4, 4, 2]);
  assert.throws(
    () =>
      tf
        .engine()
        .runKernel(
          'Conv2DBackpropFilter',
          { x, dy },
          { strides: 1, pad: 'same', dataFormat: 'NCHW', filterShape: [3, 3, 1, 2] },
        ),
    /Conv2DBackpropFilter .*NHWC only, got NCHW/,
  );
  tf.dispose([x, dy]);
});

test('a dilated convolution has no gradient on wasm, and says so', async () => {
  await on('wasm', () => []);
  const x = tf.ones([1, 8, 8, 2]) as tf.Tensor4D;
  const w = tf.ones([3, 3, 2, 2]) as tf.Tensor4D;
  assert.throws(
    () => tf.grad((f: tf.Tensor) => tf.sum(tf.conv2d(x, f as tf.Tensor4D, 1, 'same', 'NHWC', 2)))(w),
    /dilation/i,
  );
  tf.dispose([x, w]);
});

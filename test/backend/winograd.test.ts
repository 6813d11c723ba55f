import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { winogradApplies } from '../../src/backend/winograd.js';
import { createRng } from '../../src/util/rng.js';
import { on, randomValues, relativeError } from '../helpers/backend-compare.js';

const TOLERANCE = 1e-5;

type Pad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];
interface Case {
  batch: number;
  height: number;
  width: number;
  cin: number;
  cout: number;
  pad: Pad;
}

/** Forward (fused with a bias and ReLU, and plain), and both gradients of Σ conv(x, w) · r. */
function convOutputs(c: Case, x: Float32Array, w: Float32Array, b: Float32Array, r: Float32Array): tf.Tensor[] {
  const xs = tf.tensor4d(x, [c.batch, c.height, c.width, c.cin]);
  const ws = tf.tensor4d(w, [3, 3, c.cin, c.cout]);
  const bias = tf.tensor1d(b);
  const fused = tf.fused.conv2d({ x: xs, filter: ws, strides: 1, pad: c.pad, bias, activation: 'relu' });
  const plain = tf.conv2d(xs, ws, 1, c.pad);
  const [dx, dw] = tf.grads((a: tf.Tensor, f: tf.Tensor) =>
    tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, f as tf.Tensor4D, 1, c.pad as 'same'), tf.tensor(r, plain.shape))),
  )([xs, ws]);
  tf.dispose([xs, ws, bias]);
  return [fused, plain, dx, dw];
}

async function assertMatchesCpu(c: Case, seed: number): Promise<void> {
  const rng = createRng(seed);
  const x = randomValues(rng, c.batch * c.height * c.width * c.cin);
  const w = randomValues(rng, 9 * c.cin * c.cout);
  const b = randomValues(rng, c.cout);
  const info = tf.backend_util.computeConv2DInfo(
    [c.batch, c.height, c.width, c.cin],
    [3, 3, c.cin, c.cout],
    1,
    1,
    c.pad,
  );
  assert.ok(winogradApplies(info), `${JSON.stringify(c)} should take the Winograd path`);
  const r = randomValues(rng, c.batch * info.outHeight * info.outWidth * c.cout);
  const wasm = await on('wasm', () => convOutputs(c, x, w, b, r));
  const cpu = await on('cpu', () => convOutputs(c, x, w, b, r));
  ['fused forward', 'forward', 'input gradient', 'filter gradient'].forEach((name, i) => {
    const error = relativeError(wasm[i], cpu[i]);
    assert.ok(error <= TOLERANCE, `${name} ${JSON.stringify(c)}: relative error ${error}`);
  });
}

test('Winograd convolutions (forward with bias and ReLU, input and filter gradients) match cpu: same and valid, even and odd sizes', async () => {
  let seed = 1;
  for (const pad of ['same', 'valid'] as const) {
    for (const [height, width] of [
      [14, 14],
      [7, 7],
      [6, 9],
      [3, 4],
    ]) {
      await assertMatchesCpu({ batch: 3, height, width, cin: 4, cout: 8, pad }, seed++);
    }
  }
  // The default net's second convolution, on a few images; and more channels than one block.
  await assertMatchesCpu({ batch: 2, height: 14, width: 14, cin: 32, cout: 64, pad: 'same' }, seed++);
  await assertMatchesCpu({ batch: 5, height: 5, width: 5, cin: 12, cout: 24, pad: 'same' }, seed++);
  // Explicit, uneven padding.
  await assertMatchesCpu(
    {
      batch: 2,
      height: 6,
      width: 5,
      cin: 4,
      cout: 8,
      pad: [
        [0, 0],
        [2, 0],
        [0, 1],
        [0, 0],
      ],
    },
    seed,
  );
});

test('Winograd is used only where it applies (3x3, stride 1, channels by 4 in and 8 out)', () => {
  const applies = (filter: [number, number, number, number], strides: number, dilations = 1) =>
    winogradApplies(tf.backend_util.computeConv2DInfo([1, 8, 8, filter[2]], filter, strides, dilations, 'same'));
  assert.equal(applies([3, 3, 4, 8], 1), true);
  assert.equal(applies([3, 3, 1, 32], 1), false);
  assert.equal(applies([3, 3, 4, 4], 1), false);
  assert.equal(applies([5, 5, 4, 8], 1), false);
  assert.equal(applies([3, 3, 4, 8], 2), false);
  assert.equal(applies([3, 3, 4, 8], 1, 2), false);
});

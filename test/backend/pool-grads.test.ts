import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { createRng } from '../../src/util/rng.js';
import { on, pick, randomValues, relativeError } from '../helpers/backend-compare.js';

interface PoolCase {
  batch: number;
  size: number;
  channels: number;
  filter: number;
  stride: number;
  pad: 'same' | 'valid';
}

function poolGradient(c: PoolCase, x: Float32Array, r: Float32Array): tf.Tensor[] {
  const xs = tf.tensor4d(x, [c.batch, c.size, c.size, c.channels]);
  const f = (a: tf.Tensor) => {
    const y = tf.maxPool(a as tf.Tensor4D, c.filter, c.stride, c.pad);
    return tf.sum(tf.mul(y, tf.tensor(r.subarray(0, y.size), y.shape)));
  };
  const dx = tf.grad(f)(xs);
  xs.dispose();
  return [dx];
}

async function assertMatchesCpu(c: PoolCase, x: Float32Array, seed: number): Promise<void> {
  const r = randomValues(createRng(seed), c.batch * c.size * c.size * c.channels);
  const [wasm] = await on('wasm', () => poolGradient(c, x, r));
  const [cpu] = await on('cpu', () => poolGradient(c, x, r));
  const error = relativeError(wasm, cpu);
  assert.ok(error <= 1e-6, `max-pool gradient ${JSON.stringify(c)}: relative error ${error}`);
}

test('max-pool gradient matches cpu on random shapes, paddings and overlapping windows', async () => {
  const rng = createRng(3);
  for (let i = 0; i < 16; i++) {
    const filter = pick(rng, [2, 3]);
    const c: PoolCase = {
      batch: pick(rng, [1, 2, 7, 128]),
      size: filter + rng.int(9),
      channels: pick(rng, [1, 3, 8, 32, 64]),
      filter,
      stride: pick(rng, [1, 2]),
      pad: pick(rng, ['same', 'valid'] as const),
    };
    await assertMatchesCpu(c, randomValues(rng, c.batch * c.size * c.size * c.channels), rng.seed());
  }
});

test('ties give the whole gradient to the first maximum, as on cpu (relu outputs are full of zeros)', async () => {
  const rng = createRng(4);
  const c: PoolCase = { batch: 4, size: 8, channels: 5, filter: 2, stride: 2, pad: 'valid' };
  const x = new Float32Array(c.batch * c.size * c.size * c.channels).map(() => Math.max(0, rng.int(3) - 1));
  await assertMatchesCpu(c, x, 9);
  await assertMatchesCpu({ ...c, filter: 3, stride: 1, pad: 'same' }, x, 10);
  const odd: PoolCase = { batch: 3, size: 7, channels: 4, filter: 2, stride: 2, pad: 'valid' };
  await assertMatchesCpu(
    odd,
    new Float32Array(3 * 7 * 7 * 4).map(() => rng.int(2)),
    11,
  );
  // Channels divisible by 4: the SIMD kernel, four channels at a time.
  const wide: PoolCase = { batch: 2, size: 8, channels: 12, filter: 2, stride: 2, pad: 'valid' };
  await assertMatchesCpu(
    wide,
    new Float32Array(2 * 8 * 8 * 12).map(() => Math.max(0, rng.int(3) - 1)),
    12,
  );
});

test('a pooled output that matches no input of its window (not from this input) still routes to the first maximum, as on cpu', async () => {
  const rng = createRng(12);
  // 3 channels: the loop; 8: the SIMD kernel, with some windows that do match (the lanes mixed).
  for (const channels of [3, 8]) {
    const shape: [number, number, number, number] = [2, 6, 6, channels];
    const x = randomValues(rng, 2 * 6 * 6 * channels);
    const dy = randomValues(rng, 2 * 3 * 3 * channels);
    // Every third value is the window's true maximum, the rest match nothing.
    const windowMax = (i: number) => {
      const [c, ox, oy, b] = [
        i % channels,
        Math.floor(i / channels) % 3,
        Math.floor(i / (3 * channels)) % 3,
        Math.floor(i / (9 * channels)),
      ];
      const at = (dy: number, dx: number) => x[((b * 6 + 2 * oy + dy) * 6 + 2 * ox + dx) * channels + c];
      return Math.max(at(0, 0), at(0, 1), at(1, 0), at(1, 1));
    };
    const bogus = new Float32Array(2 * 3 * 3 * channels).map((_, i) => (i % 3 === 0 ? windowMax(i) : 1234.5));
    const run = () => [
      tf.engine().runKernel(
        'MaxPoolGrad',
        {
          dy: tf.tensor4d(dy, [2, 3, 3, channels]),
          input: tf.tensor4d(x, shape),
          output: tf.tensor4d(bogus, [2, 3, 3, channels]),
        },
        { filterSize: 2, strides: 2, pad: 'valid' },
      ) as tf.Tensor,
    ];
    const [wasm] = await on('wasm', run);
    const [cpu] = await on('cpu', run);
    assert.equal(relativeError(wasm, cpu), 0, `${channels} channels`);
  }
});

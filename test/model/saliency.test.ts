import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import { buildModel } from '../../src/model/architectures.js';
import { saliencyMaps } from '../../src/model/saliency.js';
import { tinyModel } from '../helpers/run-fixtures.js';

before(async () => {
  await initBackend('wasm', { quiet: true });
});

function inputs(n: number, seed: number): Float32Array {
  const x = tf.randomUniform([n * 784], 0, 1, 'float32', seed);
  const values = x.dataSync() as Float32Array;
  x.dispose();
  return values;
}

const probabilitiesOf = (model: tf.LayersModel, x: Float32Array, n: number) =>
  tf.tidy(() => Array.from((model.predict(tf.tensor4d(x, [n, 28, 28, 1])) as tf.Tensor).dataSync()));

test('a softmax over one dense layer: |d p_c / d x| = |p_c (W_c - sum_k p_k W_k)|, exactly as worked out by hand', () => {
  const model = tinyModel(11);
  const x = inputs(3, 4);
  const before = tf.memory().numTensors;
  const { maps, classes, probabilities } = saliencyMaps(model, x, 3);
  assert.equal(tf.memory().numTensors, before, 'every tensor disposed');
  const kernel = model.layers[1].getWeights()[0].arraySync() as number[][]; // [784][10]
  const p = probabilitiesOf(model, x, 3);
  for (let i = 0; i < 3; i++) {
    const row = p.slice(i * 10, (i + 1) * 10);
    const c = row.indexOf(Math.max(...row));
    assert.equal(classes[i], c, 'the predicted class by default');
    assert.ok(Math.abs(probabilities[i] - row[c]) < 1e-6);
    for (let j = 0; j < 784; j += 37) {
      const expected = Math.abs(row[c] * (kernel[j][c] - row.reduce((sum, pk, k) => sum + pk * kernel[j][k], 0)));
      assert.ok(
        Math.abs(maps[i * 784 + j] - expected) < 1e-6,
        `image ${i} pixel ${j}: ${maps[i * 784 + j]} vs ${expected}`,
      );
    }
  }
  model.dispose();
});

test('through convolutions, batch norm and max-pooling (our wasm gradient kernels): agrees with finite differences, for a class given', () => {
  const model = buildModel('default', 3);
  const x = inputs(2, 8);
  const { maps, classes } = saliencyMaps(model, x, 2, { classes: [4, 7], batchSize: 1 });
  assert.deepEqual(classes, [4, 7]);
  const h = 1e-2;
  for (let i = 0; i < 2; i++) {
    const map = maps.subarray(i * 784, (i + 1) * 784);
    assert.ok(map.every((v) => Number.isFinite(v) && v >= 0));
    // The three pixels the class's probability is most sensitive to.
    const top = Array.from(map.keys())
      .sort((a, b) => map[b] - map[a])
      .slice(0, 3);
    for (const j of top) {
      const moved = (delta: number) => {
        const one = x.slice(i * 784, (i + 1) * 784);
        one[j] += delta;
        return probabilitiesOf(model, one, 1)[classes[i]];
      };
      const numeric = Math.abs((moved(h) - moved(-h)) / (2 * h));
      assert.ok(
        Math.abs(numeric - map[j]) <= 0.1 * map[j] + 1e-4,
        `image ${i} pixel ${j}: gradient ${map[j]}, finite difference ${numeric}`,
      );
    }
  }
  assert.throws(() => saliencyMaps(model, x, 2, { classes: [1] }), /1 classes given for 2 inputs/);
  model.dispose();
});

test('SmoothGrad: the mean over noisy copies, the same for the same seed, no tensor left behind', () => {
  const model = buildModel('compact', 4);
  const x = inputs(2, 12);
  const before = tf.memory().numTensors;
  const smooth = { samples: 4, sigma: 0.15, seed: 5 };
  const [a, b] = [saliencyMaps(model, x, 2, { smooth }), saliencyMaps(model, x, 2, { smooth, batchSize: 1 })];
  assert.equal(tf.memory().numTensors, before);
  const plain = saliencyMaps(model, x, 2);
  assert.deepEqual(a.classes, plain.classes);
  assert.ok(a.maps.every((v) => Number.isFinite(v) && v >= 0));
  assert.notDeepEqual(Array.from(a.maps), Array.from(plain.maps));
  assert.deepEqual(Array.from(saliencyMaps(model, x, 2, { smooth }).maps), Array.from(a.maps), 'seeded');
  assert.equal(b.maps.length, a.maps.length);
  model.dispose();
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { BatchNormalization, batchNormalization } from '../../src/model/batch-norm-layer.js';
import { createRng } from '../../src/util/rng.js';
import { on, randomValues, relativeError } from '../helpers/backend-compare.js';

/**
 * The stock layer's training step against ours: the same output, the same moving statistics and
 * the same gradients of a loss through the layer (x, gamma, beta), on the cpu backend (plain
 * ops) and on wasm (our kernel; 8 channels take its SIMD path, 6 its plain loops).
 */
for (const [shape, what] of [
  [[4, 5, 5, 8], 'a conv activation, SIMD'],
  [[4, 5, 5, 6], 'a conv activation, 6 channels'],
  [[16, 12], 'a dense activation'],
] as const) {
  test(`batch norm's fused training gradient matches tfjs's own (${what})`, async () => {
    const rng = createRng(91);
    const size = shape.reduce<number>((a, b) => a * b, 1);
    const c = shape[shape.length - 1];
    const x = randomValues(rng, size).map((v) => 3 * v + 5); // mean and variance far from 0 and 1
    const weights = randomValues(rng, size); // the loss Σ y · weights gives every dy its own value
    const gamma = randomValues(rng, c).map((v) => v + 1);
    const beta = randomValues(rng, c);
    const run = (layer: tf.layers.Layer) => () => {
      const xs = tf.tensor(x, [...shape]);
      layer.build(xs.shape);
      layer.setWeights([tf.tensor1d(gamma), tf.tensor1d(beta), tf.zeros([c]), tf.ones([c])]);
      const [g, b] = layer.trainableWeights.map((w) => w.read() as tf.Variable);
      const w = tf.tensor(weights, [...shape]);
      const loss = (input: tf.Tensor) => tf.sum(tf.mul(layer.apply(input, { training: true }) as tf.Tensor, w));
      // A training-mode call with no gradient taken (as tests and the trust bench make): its output.
      const plain = layer.apply(xs, { training: true }) as tf.Tensor;
      const { value, grads } = tf.variableGrads(() => loss(xs) as tf.Scalar, [g, b]);
      const dx = tf.grad(loss)(xs);
      const moving = layer.getWeights().slice(2);
      return [plain, value, dx, grads[g.name], grads[b.name], ...moving];
    };
    for (const backend of ['cpu', 'wasm'] as const) {
      const ours = await on(backend, run(batchNormalization({ momentum: 0.9 })));
      const stock = await on(backend, run(tf.layers.batchNormalization({ momentum: 0.9 })));
      ['output without a tape', 'loss', 'dx', 'dgamma', 'dbeta', 'moving mean', 'moving variance'].forEach((name, i) =>
        assert.ok(
          relativeError(ours[i], stock[i]) <= 2e-5,
          `${backend}, ${name}: relative error ${relativeError(ours[i], stock[i])}`,
        ),
      );
    }
  });
}

test('a model saved with our batch norm names the stock class, and loads into ours', async () => {
  await on('cpu', () => []);
  const model = tf.sequential({ layers: [batchNormalization({ inputShape: [4], momentum: 0.9 })] });
  const json = JSON.stringify(model.toJSON(null, false));
  assert.match(json, /"class_name":"BatchNormalization"/);
  const loaded = await tf.models.modelFromJSON({ modelTopology: JSON.parse(json) as tf.io.ModelJSON['modelTopology'] });
  assert.ok(loaded.layers[0] instanceof BatchNormalization);
  // inference is the stock layer's: the moving statistics
  const y = loaded.predict(tf.tensor2d([[1, 2, 3, 4]])) as tf.Tensor;
  const expected = [1, 2, 3, 4].map((v) => v / Math.sqrt(1 + 1e-3));
  assert.ok(relativeError(y.dataSync() as Float32Array, Float32Array.from(expected)) < 1e-6);
  y.dispose();
  model.dispose();
  loaded.dispose();
});

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import { buildModel } from '../../src/model/architectures.js';
import { embeddingLayer, layerActivations, layerInfos, modelViews } from '../../src/model/activations.js';
import { tinyModel } from '../helpers/run-fixtures.js';

before(async () => {
  await initBackend('wasm', { quiet: true });
});

/** n random inputs at the model's scale, seeded. */
function inputs(n: number, seed = 3): Float32Array {
  const x = tf.randomUniform([n * 784], 0, 1, 'float32', seed);
  const values = x.dataSync() as Float32Array;
  x.dispose();
  return values;
}

test("one output per layer, named and shaped as the layer, the last one the model's own answer; no tensor left behind", () => {
  const model = buildModel('default', 1);
  const x = inputs(5);
  const before = tf.memory().numTensors;
  const outputs = layerActivations(model, x, 5);
  assert.equal(tf.memory().numTensors, before, 'every tensor disposed');
  assert.deepEqual(
    outputs.map((o) => o.name),
    model.layers.map((l) => l.name),
  );
  assert.deepEqual(
    outputs.map((o) => o.className),
    model.layers.map((l) => l.getClassName()),
  );
  assert.deepEqual(outputs[0].shape, [28, 28, 32]);
  assert.deepEqual(outputs.at(-1)!.shape, [10]);
  for (const o of outputs) assert.equal(o.values.length, 5 * o.shape.reduce((a, b) => a * b, 1), o.name);
  const predicted = tf.tidy(() => (model.predict(tf.tensor4d(x, [5, 28, 28, 1])) as tf.Tensor).dataSync());
  const last = outputs.at(-1)!.values;
  for (let i = 0; i < predicted.length; i++)
    assert.ok(Math.abs(predicted[i] - last[i]) < 1e-5, `probability ${i}: ${last[i]} vs ${predicted[i]}`);
  // Built once per model and set of layers: a second call makes no new model and leaves nothing behind.
  layerActivations(model, x, 5);
  assert.equal(tf.memory().numTensors, before);
  model.dispose();
});

test('chosen layers in the order asked; batches of any size give the same values; an unknown layer is named', () => {
  const model = buildModel('compact', 2);
  const x = inputs(7, 5);
  const names = [model.layers[4].name, model.layers[0].name];
  const whole = layerActivations(model, x, 7, { layers: names });
  const inTwos = layerActivations(model, x, 7, { layers: names, batchSize: 2 });
  assert.deepEqual(
    whole.map((o) => o.name),
    names,
  );
  for (const [k, o] of whole.entries()) assert.deepEqual(Array.from(inTwos[k].values), Array.from(o.values));
  assert.throws(() => layerActivations(model, x, 7, { layers: ['nope'] }), /has no layer nope/);
  assert.throws(() => layerActivations(model, x, 6), /not 6 inputs of 784/);
  assert.deepEqual(
    layerActivations(model, new Float32Array(0), 0, { layers: names }).map((o) => o.values.length),
    [0, 0],
  );
  model.dispose();
});

test('the views: each convolution after its batch norm and ReLU, each pooling layer, the hidden dense layer; pool 1 is conv 1 max-pooled', () => {
  const model = buildModel('default', 1);
  const views = modelViews(model);
  assert.deepEqual(
    views.map((v) => `${v.label}: ${v.after}`),
    ['conv 1: relu', 'pool 1: ', 'conv 2: batch norm + relu', 'pool 2: ', 'dense 1: batch norm + relu'],
  );
  assert.equal(views[2].first, model.layers[2].name);
  assert.equal(views[2].layer, model.layers[4].name, 'the ReLU after conv 2 and its batch norm');
  assert.deepEqual(
    modelViews(model, ['conv']).map((v) => v.label),
    ['conv 1', 'conv 2'],
  );
  const [conv1, pool1] = layerActivations(model, inputs(1, 9), 1, { layers: [views[0].layer, views[1].layer] });
  for (let y = 0; y < 14; y++) {
    for (let x = 0; x < 14; x++) {
      for (let c = 0; c < 32; c++) {
        const at = (yy: number, xx: number) => conv1.values[(yy * 28 + xx) * 32 + c];
        const max = Math.max(at(2 * y, 2 * x), at(2 * y, 2 * x + 1), at(2 * y + 1, 2 * x), at(2 * y + 1, 2 * x + 1));
        assert.ok(Math.abs(pool1.values[(y * 14 + x) * 32 + c] - max) < 1e-6);
      }
    }
  }
  assert.ok(layerInfos(model).every((info) => info.className !== 'InputLayer'));
  model.dispose();
});

test('the embedding is what the last dense layer reads; a model with no hidden layer has none', () => {
  const model = buildModel('default', 1);
  assert.equal(embeddingLayer(model), model.layers[9].name);
  const keras = buildModel('keras', 1);
  assert.equal(
    keras.layers[keras.layers.map((l) => l.getClassName()).lastIndexOf('Dense') - 1].getClassName(),
    'Dropout',
  );
  assert.equal(embeddingLayer(keras), keras.layers[5].name);
  const tiny = tinyModel();
  assert.equal(embeddingLayer(tiny), undefined);
  [model, keras, tiny].forEach((m) => m.dispose());
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import { createRng } from '../../src/util/rng.js';
import { on, randomValues, relativeError } from '../helpers/backend-compare.js';

const BATCH = 6;
const CLASSES = 3;

/** conv → (bn → relu) → pool → strided conv → dense → bn → relu → dense: the layer kinds our models use. */
function tinyNet(convActivation: 'relu' | 'linear'): tf.Sequential {
  const model = tf.sequential();
  model.add(
    tf.layers.conv2d({
      inputShape: [10, 10, 1],
      filters: 4,
      kernelSize: 3,
      padding: 'same',
      activation: convActivation,
      useBias: convActivation === 'relu',
    }),
  );
  if (convActivation === 'linear') {
    model.add(tf.layers.batchNormalization());
    model.add(tf.layers.reLU());
  }
  model.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  model.add(tf.layers.conv2d({ filters: 6, kernelSize: 3, strides: 2, padding: 'valid', activation: 'relu' }));
  model.add(tf.layers.flatten());
  model.add(tf.layers.dense({ units: 8, useBias: false }));
  model.add(tf.layers.batchNormalization());
  model.add(tf.layers.reLU());
  model.add(tf.layers.dense({ units: CLASSES }));
  return model;
}

interface Batch {
  x: Float32Array;
  labels: Float32Array;
}

function randomBatch(seed: number): Batch {
  const rng = createRng(seed);
  const labels = new Float32Array(BATCH * CLASSES);
  for (let i = 0; i < BATCH; i++) labels[i * CLASSES + rng.int(CLASSES)] = 1;
  return { x: randomValues(rng, BATCH * 100), labels };
}

function loss(model: tf.Sequential, batch: Batch): tf.Scalar {
  const logits = model.apply(tf.tensor4d(batch.x, [BATCH, 10, 10, 1]), { training: true }) as tf.Tensor;
  return tf.losses.softmaxCrossEntropy(tf.tensor2d(batch.labels, [BATCH, CLASSES]), logits) as tf.Scalar;
}

/** The model's gradients in trainable-weight order, plus its weights so the other backend can copy them. */
function gradientsOf(model: tf.Sequential, batch: Batch): tf.Tensor[] {
  const { value, grads } = tf.variableGrads(() => loss(model, batch));
  value.dispose();
  return model.trainableWeights.map((w) => grads[w.name]);
}

for (const activation of ['relu', 'linear'] as const) {
  test(`a conv-${activation === 'linear' ? 'bn-relu' : 'relu'}-pool-conv-dense-bn-dense net has the same gradients on wasm as on cpu`, async () => {
    const batch = randomBatch(activation === 'relu' ? 1 : 2);
    let weights: Float32Array[] = [];
    let shapes: number[][] = [];
    const wasm = await on('wasm', () => {
      const model = tinyNet(activation);
      weights = model.getWeights().map((w) => w.dataSync() as Float32Array);
      shapes = model.getWeights().map((w) => w.shape);
      const grads = gradientsOf(model, batch);
      model.dispose();
      return grads;
    });
    const cpu = await on('cpu', () => {
      const model = tinyNet(activation);
      model.setWeights(weights.map((w, i) => tf.tensor(w, shapes[i])));
      const grads = gradientsOf(model, batch);
      model.dispose();
      return grads;
    });
    assert.equal(wasm.length, cpu.length);
    wasm.forEach((g, i) => {
      const error = relativeError(g, cpu[i]);
      assert.ok(error <= 1e-4, `gradient ${i} (of ${wasm.length}): relative error ${error}`);
    });
  });
}

test('an Adam training step on wasm leaks neither tensors nor backend buffers', async () => {
  await initBackend('wasm');
  const model = tinyNet('linear');
  const optimizer = tf.train.adam(1e-3);
  const batch = randomBatch(3);
  const step = () =>
    tf.tidy(
      () =>
        void optimizer.minimize(
          () => loss(model, batch),
          false,
          model.trainableWeights.map((w) => w.read() as tf.Variable),
        ),
    );
  step(); // the first step creates Adam's moment slots
  // Kernel intermediates are invisible to tf.memory(): count the backend's own buffers too.
  const backendBuffers = () => tf.engine().backend.numDataIds();
  const before = { ...tf.memory(), backendBuffers: backendBuffers() };
  const firstLoss = tf.tidy(() => loss(model, batch).dataSync()[0]);
  for (let i = 0; i < 3; i++) step();
  const after = { ...tf.memory(), backendBuffers: backendBuffers() };
  assert.equal(after.numTensors, before.numTensors);
  assert.equal(after.numDataBuffers, before.numDataBuffers);
  assert.equal(after.backendBuffers, before.backendBuffers);
  const lastLoss = tf.tidy(() => loss(model, batch).dataSync()[0]);
  assert.ok(lastLoss < firstLoss, `training on one batch should lower its loss: ${firstLoss} → ${lastLoss}`);
  model.dispose();
  optimizer.dispose();
});

test('tensorflow falls back to wasm with a one-line notice when @tensorflow/tfjs-node is absent', async () => {
  const notices: string[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => void notices.push(args.join(' '));
  try {
    assert.equal(await initBackend('tensorflow'), 'wasm');
  } finally {
    console.error = original;
  }
  assert.equal(tf.getBackend(), 'wasm');
  assert.equal(notices.length, 1);
  assert.match(notices[0], /^notice: @tensorflow\/tfjs-node .*wasm/);
  assert.ok(!notices[0].includes('\n'));
});

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import { ARCHITECTURES } from '../../src/model/arch-names.js';
import { buildModel, logitsModel, modelSummary } from '../../src/model/architectures.js';
import { loadModel, saveModel } from '../../src/model/io.js';
import { removeTempDirs, tempDir } from '../helpers/run-fixtures.js';

before(async () => {
  await initBackend('wasm');
});
after(removeTempDirs);

// Parameter counts worked out by hand from the layer shapes (the Keras example's own summary says 34,826).
const EXPECTED_PARAMS: Record<string, number> = {
  lenet5: 156 + 2416 + 48120 + 10164 + 850,
  keras: 320 + 18496 + 16010,
  default: 320 + 18432 + 256 + 401408 + 512 + 1290,
  compact: 160 + 4608 + 128 + 200704 + 512 + 1290,
};

for (const arch of ARCHITECTURES) {
  test(`${arch}: 28x28x1 in, a 10-way softmax out, ${EXPECTED_PARAMS[arch]} parameters, no NaN`, () => {
    const model = buildModel(arch, 1);
    assert.deepEqual(model.inputs[0].shape, [null, 28, 28, 1]);
    assert.deepEqual(model.outputs[0].shape, [null, 10]);
    assert.equal(model.countParams(), EXPECTED_PARAMS[arch]);
    const x = tf.randomUniform([3, 28, 28, 1], 0, 1, 'float32', 7);
    const y = model.predict(x) as tf.Tensor2D;
    const rows = y.arraySync();
    for (const row of rows) {
      assert.ok(row.every(Number.isFinite));
      assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-5);
    }
    tf.dispose([x, y]);
    assert.match(modelSummary(model), /Total params: /);
    assert.equal(logitsModel(model).outputs[0].shape[1], 10);
    model.dispose();
  });
}

test('the same seed gives the same initial weights, another seed other weights', () => {
  const weights = (seed: number) =>
    buildModel('default', seed)
      .getWeights()
      .map((w) => Array.from(w.dataSync()));
  assert.deepEqual(weights(5), weights(5));
  assert.notDeepEqual(weights(5), weights(6));
});

test('save → load gives a model with identical predictions, in the TensorFlow.js layers format', async () => {
  const dir = await tempDir('mnist-cnn-io-');
  const model = buildModel('default', 3);
  await saveModel(model, dir);
  const loaded = await loadModel(dir);
  const x = tf.randomUniform([4, 28, 28, 1], 0, 1, 'float32', 11);
  const a = (model.predict(x) as tf.Tensor).dataSync();
  const b = (loaded.predict(x) as tf.Tensor).dataSync();
  assert.deepEqual(Array.from(a), Array.from(b));
  const json = JSON.parse((await import('node:fs')).readFileSync(join(dir, 'model.json'), 'utf8'));
  assert.equal(json.format, 'layers-model');
  assert.deepEqual(json.weightsManifest[0].paths, ['./weights.bin']);
});

test('a weights.bin shorter than model.json says is refused, naming the file', async () => {
  const dir = await tempDir('mnist-cnn-io-');
  await saveModel(buildModel('lenet5', 1), dir);
  const { truncate } = await import('node:fs/promises');
  await truncate(join(dir, 'weights.bin'), 100);
  await assert.rejects(loadModel(dir), /weights\.bin: is 100 bytes, but model\.json describes/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { initBackend } from '../../src/backend/index.js';

test('clone and same-dtype cast share the data on wasm, and the data lives until the last reference goes', async () => {
  await initBackend('wasm');
  const backend = tf.backend() as BackendWasm;
  const x = tf.tensor2d([
    [1.5, -2],
    [3, 4],
  ]);
  const copy = tf.clone(x);
  const cast = tf.cast(x, 'float32');
  assert.equal(copy.dataId, x.dataId);
  assert.equal(cast.dataId, x.dataId);
  const dataId = x.dataId;
  x.dispose();
  copy.dispose();
  assert.ok(backend.dataIdMap.has(dataId), 'the data went with references still left');
  assert.deepEqual(Array.from(cast.dataSync()), [1.5, -2, 3, 4]);
  cast.dispose();
  assert.equal(backend.dataIdMap.has(dataId), false, 'the data outlived its last reference');
});

test('a cast to another dtype still converts, and strings still copy', async () => {
  await initBackend('wasm');
  const x = tf.tensor1d([1.7, -2.2, 0]);
  const ints = tf.cast(x, 'int32');
  assert.notEqual(ints.dataId, x.dataId);
  assert.equal(ints.dtype, 'int32');
  assert.deepEqual(Array.from(ints.dataSync()), [1, -2, 0]);
  const words = tf.tensor1d(['a', 'b'], 'string');
  assert.deepEqual(tf.clone(words).arraySync(), ['a', 'b']);
  tf.dispose([x, ints, words]);
});

test('training steps with shared clones leak no tensors and give the same loss as with copies', async () => {
  await initBackend('wasm');
  const run = () => {
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({
          inputShape: [6, 6, 1],
          filters: 4,
          kernelSize: 3,
          padding: 'same',
          activation: 'relu',
          kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
        }),
        tf.layers.batchNormalization(),
        tf.layers.flatten(),
        tf.layers.dense({ units: 3, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
      ],
    });
    const optimizer = tf.train.sgd(0.1);
    const x = tf.tensor4d(
      Array.from({ length: 4 * 36 }, (_, i) => Math.sin(i)),
      [4, 6, 6, 1],
    );
    const y = tf.oneHot(tf.tensor1d([0, 1, 2, 1], 'int32'), 3);
    const losses: number[] = [];
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) {
      losses.push(
        tf.tidy(
          () =>
            optimizer
              .minimize(
                () => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar,
                true,
              )!
              .dataSync()[0],
        ),
      );
    }
    const leaked = tf.memory().numTensors - before;
    tf.dispose([x, y]);
    model.dispose();
    optimizer.dispose();
    return { losses, leaked };
  };
  const wasm = run();
  await tf.setBackend('cpu');
  const cpu = run();
  assert.equal(wasm.leaked, 0);
  assert.ok(wasm.losses[4] < wasm.losses[0], `the loss did not fall: ${wasm.losses}`);
  wasm.losses.forEach((loss, i) =>
    assert.ok(
      Math.abs(loss - cpu.losses[i]) < 1e-4 * Math.max(1, Math.abs(cpu.losses[i])),
      `step ${i}: wasm ${loss}, cpu ${cpu.losses[i]}`,
    ),
  );
});

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import { RUNTIMES } from '../../src/backend/names.js';
import { OnnxRunner, setOnnxRuntimeLoader } from '../../src/backend/onnx-runner.js';
import { ModelReplicas } from '../../src/backend/replicas.js';
import { startRunner, type ModelRunner } from '../../src/backend/runner.js';
import { loadMnist } from '../../src/data/load.js';
import { scalePixels } from '../../src/data/model-input.js';
import { PIXELS } from '../../src/data/types.js';
import { buildModel } from '../../src/model/architectures.js';

let images: Float32Array;
let model: tf.LayersModel;

before(async () => {
  await initBackend('wasm');
  images = scalePixels((await loadMnist()).test.images.subarray(0, 64 * PIXELS));
  model = buildModel('compact', 5);
});
after(() => model.dispose());

/** What console.error printed while `work` ran. */
async function stderrOf<T>(
  t: {
    mock: {
      method: (object: Console, name: 'error', fn: (...args: unknown[]) => void) => { mock: { restore(): void } };
    };
  },
  work: () => Promise<T>,
): Promise<{ result: T; lines: string[] }> {
  const lines: string[] = [];
  const spy = t.mock.method(console, 'error', (...parts: unknown[]) => lines.push(parts.join(' ')));
  try {
    return { result: await work(), lines };
  } finally {
    spy.mock.restore();
  }
}

async function probabilities(runner: ModelRunner, n = 64): Promise<Float32Array> {
  runner.batch.x.set(images.subarray(0, n * PIXELS));
  const out = new Float32Array(n * 10);
  await runner.predict(n, out);
  return out;
}

test('each runtime starts its runner, quietly, and both give the same probabilities (within 1e-5)', async (t) => {
  const results: Record<string, Float32Array> = {};
  for (const runtime of RUNTIMES) {
    const { result: runner, lines } = await stderrOf(t, () =>
      startRunner(model, { runtime, threads: 2, maxBatch: 64, backend: 'wasm' }),
    );
    try {
      assert.deepEqual(lines, []);
      assert.equal(runner.runtime, runtime);
      assert.ok(runtime === 'tfjs' ? runner instanceof ModelReplicas : runner instanceof OnnxRunner);
      assert.equal(runner.threads, 2);
      assert.equal(runner.maxBatch, 64);
      results[runtime] = await probabilities(runner);
    } finally {
      await runner.close();
    }
  }
  assert.ok(results.onnx.every((p, i) => Math.abs(p - results.tfjs[i]) <= 1e-5));
  const unnamed = await startRunner(model, { threads: 1, maxBatch: 8, backend: 'wasm' });
  assert.equal(unnamed.runtime, 'tfjs', 'tfjs unless told');
  await unnamed.close();
});

test('where onnxruntime-node does not load, `onnx` falls back to TensorFlow.js with one line on stderr saying why', async (t) => {
  setOnnxRuntimeLoader(() =>
    Promise.reject(
      new Error(
        'libonnxruntime.so.1: cannot open shared object file: No such file or directory\nRequire stack:\n- /somewhere/binding.js',
      ),
    ),
  );
  try {
    const { result: runner, lines } = await stderrOf(t, () =>
      startRunner(model, { runtime: 'onnx', threads: 1, maxBatch: 64, backend: 'wasm' }),
    );
    try {
      assert.deepEqual(lines, [
        'notice: ONNX Runtime does not load here (libonnxruntime.so.1: cannot open shared object file: No such file or directory); using TensorFlow.js',
      ]);
      assert.equal(runner.runtime, 'tfjs');
      assert.ok(runner instanceof ModelReplicas);
      assert.equal((await probabilities(runner)).length, 640);
    } finally {
      await runner.close();
    }
  } finally {
    setOnnxRuntimeLoader();
  }
});

test('a model with a layer ONNX cannot express runs on TensorFlow.js, with a notice naming the layer', async (t) => {
  const transposed = tf.sequential({
    name: 'odd',
    layers: [
      tf.layers.conv2dTranspose({ inputShape: [28, 28, 1], filters: 2, kernelSize: 3, name: 'upsample' }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 10, activation: 'softmax' }),
    ],
  });
  const { result: runner, lines } = await stderrOf(t, () =>
    startRunner(transposed, { runtime: 'onnx', threads: 1, maxBatch: 8, backend: 'wasm' }),
  );
  try {
    assert.equal(lines.length, 1);
    assert.match(
      lines[0],
      /^notice: model 'odd' does not convert to ONNX \(layer 'upsample' \(Conv2DTranspose\) cannot be exported to ONNX\); using TensorFlow\.js$/,
    );
    assert.equal(runner.runtime, 'tfjs');
  } finally {
    await runner.close();
    transposed.dispose();
  }
});

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import { loadOnnxRuntime, OnnxRunner, setOnnxRuntimeLoader } from '../../src/backend/onnx-runner.js';
import { withReplicas } from '../../src/backend/replicas.js';
import { loadMnist } from '../../src/data/load.js';
import { scalePixels } from '../../src/data/model-input.js';
import { PIXELS } from '../../src/data/types.js';
import { buildModel, logitsModel } from '../../src/model/architectures.js';
import { loadModel } from '../../src/model/io.js';
import { quickRunDir } from '../helpers/quick-run.js';

let images: Float32Array;
let model: tf.LayersModel;

before(async () => {
  await initBackend('wasm');
  images = scalePixels((await loadMnist()).test.images.subarray(0, 300 * PIXELS));
  model = await loadModel(await quickRunDir());
});

const maxDifference = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

/** TensorFlow.js's probabilities (ModelReplicas, one thread) for the first n test images. */
function tfjsProbabilities(n: number): Promise<Float32Array> {
  return withReplicas(model, { threads: 1, backend: 'wasm', maxBatch: n }, async (replicas) => {
    replicas.batch.x.set(images.subarray(0, n * PIXELS));
    const out = new Float32Array(n * 10);
    await replicas.predict(n, out);
    return out;
  });
}

test('on 1 and 2 threads, the first n rows of its batch give the probabilities TensorFlow.js gives (within 1e-5), for any n up to maxBatch', async () => {
  const reference = await tfjsProbabilities(300);
  for (const threads of [1, 2]) {
    const runner = await OnnxRunner.start(model, { threads, maxBatch: 128 });
    try {
      assert.equal(runner.runtime, 'onnx');
      assert.equal(runner.threads, threads);
      assert.equal(runner.maxBatch, 128);
      assert.equal(runner.batch.x.length, 128 * PIXELS);
      for (const [from, n] of [
        [0, 128],
        [128, 1],
        [129, 77],
        [0, 0],
      ]) {
        runner.batch.x.set(images.subarray(from * PIXELS, (from + n) * PIXELS));
        const out = new Float32Array(n * 10).fill(-1);
        await runner.predict(n, out);
        const difference = maxDifference(out, reference.subarray(from * 10, (from + n) * 10));
        assert.ok(difference <= 1e-5, `${threads} thread(s), rows ${from}..${from + n}: ${difference}`);
      }
      // Only n rows are written: the rest of `out` is left alone.
      const out = new Float32Array(30).fill(-1);
      await runner.predict(2, out);
      assert.deepEqual([...out.subarray(20)], new Array(10).fill(-1));
      await assert.rejects(runner.predict(129, new Float32Array(1290)), RangeError);
    } finally {
      await runner.close();
    }
  }
});

test('a temperature divides the logits before the softmax', async () => {
  const runner = await OnnxRunner.start(model, { threads: 1, maxBatch: 50, temperature: 2 });
  try {
    runner.batch.x.set(images.subarray(0, 50 * PIXELS));
    const out = new Float32Array(500);
    await runner.predict(50, out);
    const expected = tf.tidy(
      () =>
        tf
          .softmax(
            tf.div(
              logitsModel(model).predict(tf.tensor4d(images.subarray(0, 50 * PIXELS), [50, 28, 28, 1])) as tf.Tensor,
              2,
            ),
          )
          .dataSync() as Float32Array,
    );
    assert.ok(maxDifference(out, expected) <= 1e-5);
  } finally {
    await runner.close();
  }
});

test('the weights are read when it starts: a model changed later is not seen', async () => {
  const own = buildModel('lenet5', 3);
  const runner = await OnnxRunner.start(own, { threads: 1, maxBatch: 4 });
  try {
    runner.batch.x.set(images.subarray(0, 4 * PIXELS));
    const before = new Float32Array(40);
    await runner.predict(4, before);
    tf.tidy(() => own.setWeights(own.getWeights().map((w) => tf.zerosLike(w))));
    const after = new Float32Array(40);
    await runner.predict(4, after);
    assert.deepEqual(after, before);
  } finally {
    await runner.close();
    own.dispose();
  }
});

test('a model with no ONNX translation is refused with a UserError naming the layer; bad sizes with a RangeError', async () => {
  const transposed = tf.sequential({
    layers: [
      tf.layers.conv2dTranspose({ inputShape: [28, 28, 1], filters: 2, kernelSize: 3, name: 'upsample' }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 10, activation: 'softmax' }),
    ],
  });
  await assert.rejects(
    OnnxRunner.start(transposed, { threads: 1, maxBatch: 8 }),
    (err: Error) => err.name === 'UserError' && /layer 'upsample' \(Conv2DTranspose\)/.test(err.message),
  );
  await assert.rejects(OnnxRunner.start(model, { threads: 0, maxBatch: 8 }), RangeError);
  await assert.rejects(OnnxRunner.start(model, { threads: 1, maxBatch: 0 }), RangeError);
  transposed.dispose();
});

test('onnxruntime-node is imported through a replaceable loader (for tests of a binary that does not load)', async () => {
  const real = await loadOnnxRuntime();
  assert.equal(typeof real.InferenceSession.create, 'function');
  setOnnxRuntimeLoader(() => Promise.reject(new Error('libonnxruntime.so.1: cannot open shared object file')));
  try {
    await assert.rejects(loadOnnxRuntime(), /libonnxruntime\.so\.1/);
    await assert.rejects(OnnxRunner.start(model, { threads: 1, maxBatch: 8 }), /libonnxruntime\.so\.1/);
  } finally {
    setOnnxRuntimeLoader();
  }
  assert.equal(await loadOnnxRuntime(), real);
});

test("a process that runs the model on ONNX Runtime leaves no mat-debug-<pid>.log in the temp folder (ONNX Runtime 1.30's telemetry client), where onnxruntime-node alone leaves one", async (t) => {
  const tmp = await mkdtemp(join(tmpdir(), 'onnx-telemetry-'));
  try {
    const session = (module: string) =>
      `import * as ort from ${JSON.stringify(module)}; const runtime = ${module.endsWith('.ts') ? 'await ort.loadOnnxRuntime()' : 'ort'}; ` +
      `await runtime.InferenceSession.create(new Uint8Array([1, 2, 3])).catch(() => undefined); console.log(process.pid);`;
    const run = (code: string) => {
      // No ORT_DISABLE_TELEMETRY from the test's own environment: the module must set it.
      const env = { ...process.env, TMPDIR: tmp, ORT_DISABLE_TELEMETRY: undefined };
      const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
        env,
        encoding: 'utf8',
        cwd: process.cwd(),
      });
      assert.equal(child.status, 0, child.stderr);
      return Number(child.stdout.trim());
    };
    // (tsx keeps its cache in the temp folder too: only ONNX Runtime's files count.)
    const logs = async () => (await readdir(tmp)).filter((name) => name.startsWith('mat-debug-'));
    const ours = run(session(new URL('../../src/backend/onnx-runner.ts', import.meta.url).href));
    assert.deepEqual(await logs(), [], `pid ${ours} left nothing`);
    // The control: without the setting, ONNX Runtime writes the file here. It does not on every machine
    // (CI's wrote none), and there the assertion above shows nothing, which the test says rather than fails.
    const bare = run(session('onnxruntime-node'));
    const left = await logs();
    if (left.length === 0) {
      t.skip('onnxruntime-node alone wrote no mat-debug log on this machine: nothing to suppress');
      return;
    }
    assert.deepEqual(left, [`mat-debug-${bare}.log`]);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});

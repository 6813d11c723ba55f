import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import { loadMnist } from '../../src/data/load.js';
import { PIXELS, type ImageSet } from '../../src/data/types.js';
import { evaluateRun } from '../../src/evaluate/evaluate.js';
import { buildReport } from '../../src/evaluate/report.js';
import { accuracyAndLoss } from '../../src/metrics/classification.js';
import { withReplicas } from '../../src/backend/replicas.js';
import { predictSet, shiftImages, TTA_VIEWS } from '../../src/predict/set-inference.js';
import { probabilitiesOf } from '../helpers/probabilities.js';
import { loadModel } from '../../src/model/io.js';
import { quickRunDir } from '../helpers/quick-run.js';
import { makeRunDir, removeTempDirs } from '../helpers/run-fixtures.js';

let quickRun: string;
let model: tf.LayersModel;
let testSet: ImageSet;
let work: string;

const firstImages = (n: number): ImageSet => ({
  images: testSet.images.subarray(0, n * PIXELS),
  labels: testSet.labels.subarray(0, n),
  count: n,
});

before(async () => {
  await initBackend('wasm');
  quickRun = await quickRunDir();
  model = await loadModel(quickRun);
  testSet = (await loadMnist()).test;
  work = await mkdtemp(join(tmpdir(), 'mnist-cnn-tta-'));
});

after(async () => {
  model.dispose();
  await rm(work, { recursive: true, force: true });
  await removeTempDirs();
});

function cli(...args: string[]) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

test('shiftImages moves every image by whole pixels and fills the border it uncovers with the background', () => {
  const src = new Float32Array(2 * PIXELS).fill(1);
  src[PIXELS + 7 * 28 + 5] = 9; // image 1, x 5, y 7
  src[PIXELS + 7 * 28 + 27] = 8; // on the right edge
  const dst = new Float32Array(2 * PIXELS);
  shiftImages(src, dst, 2, [1, 0], -3);
  assert.equal(dst[PIXELS + 7 * 28 + 6], 9, 'one pixel to the right');
  assert.ok(!dst.includes(8), 'moved out of the picture');
  for (let y = 0; y < 28; y++) assert.equal(dst[y * 28], -3, `image 0, column 0, row ${y} is background`);
  assert.equal(dst.filter((v) => v === -3).length, 2 * 28);
  shiftImages(src, dst, 2, [0, -1], -3);
  assert.equal(dst[PIXELS + 6 * 28 + 5], 9, 'one pixel up');
  assert.deepEqual(
    Array.from(dst.subarray(PIXELS + 27 * 28, 2 * PIXELS)),
    new Array(28).fill(-3),
    'bottom row is background',
  );
});

test('TTA probabilities: one row of 10 per image, each summing to 1, deterministic, and no tensors left behind', async () => {
  const set = firstImages(200);
  await probabilitiesOf(model, set, { batchSize: 64, ...{ tta: true } }); // warm-up: the first call may keep tensors of its own
  const tensors = tf.memory().numTensors;
  const probs = await probabilitiesOf(model, set, { batchSize: 64, ...{ tta: true } });
  assert.equal(tf.memory().numTensors, tensors);
  assert.equal(probs.length, set.count * 10);
  for (let i = 0; i < set.count; i++) {
    const sum = probs.subarray(i * 10, (i + 1) * 10).reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(sum - 1) < 1e-5, `row ${i} sums to ${sum}`);
  }
  assert.deepEqual(await probabilitiesOf(model, set, { batchSize: 64, ...{ tta: true } }), probs);
});

test('views are what get averaged: two unshifted views equal plain prediction exactly, the TTA views do not', async () => {
  const set = firstImages(100);
  const plain = await probabilitiesOf(model, set, { batchSize: 32 });
  const twice = await withReplicas(model, { threads: 1, backend: 'wasm', maxBatch: 32 }, (replicas) =>
    predictSet(replicas, set, {
      batchSize: 32,
      views: [
        [0, 0],
        [0, 0],
      ],
    }),
  );
  assert.deepEqual(twice, plain);
  assert.deepEqual(await probabilitiesOf(model, set, { batchSize: 32 }), plain, 'no options: plain');
  const tta = await probabilitiesOf(model, set, { batchSize: 32, ...{ tta: true } });
  assert.ok(tta.some((p, i) => Math.abs(p - plain[i]) > 1e-3));
  assert.equal(TTA_VIEWS.length, 5);
});

test('on the quick model, TTA is no less accurate than plain prediction (to within 5 of 1,000 images)', async () => {
  const set = firstImages(1000);
  const plain = accuracyAndLoss(await probabilitiesOf(model, set), set.labels);
  const tta = accuracyAndLoss(await probabilitiesOf(model, set, { batchSize: 512, ...{ tta: true } }), set.labels);
  assert.ok(plain.accuracy > 0.9, `the quick model is trained: ${plain.accuracy}`);
  assert.ok(tta.accuracy >= plain.accuracy - 0.005, `TTA ${tta.accuracy} vs plain ${plain.accuracy}`);
});

test('`evaluate --tta` records tta in metrics.json, and the report still builds', async () => {
  const dir = join(work, 'run');
  await cp(quickRun, dir, { recursive: true });
  const plain = cli('evaluate', dir, '--split', 'val', '--json');
  assert.equal(plain.status, 0, plain.stderr);
  assert.equal(JSON.parse(plain.stdout).tta, false);
  const result = cli('evaluate', dir, '--split', 'val', '--tta', '--json');
  assert.equal(result.status, 0, result.stderr);
  const metrics = JSON.parse(result.stdout);
  assert.equal(metrics.tta, true);
  assert.notEqual(metrics.loss, JSON.parse(plain.stdout).loss, 'the views change the probabilities');
  assert.equal(JSON.parse(await readFile(join(dir, 'metrics.json'), 'utf8')).tta, true);
  const html = await readFile(await buildReport(dir), 'utf8');
  assert.match(html, /val accuracy/);
});

test('test-split figures in metadata.json say when they came with TTA, and not otherwise', async () => {
  // A one-layer model: the whole test set five times over in a moment.
  const dir = await makeRunDir({ history: false });
  const withTta = await evaluateRun(dir, { tta: true, plots: false });
  assert.equal(withTta.metrics.n, 10000);
  const meta = JSON.parse(await readFile(join(dir, 'metadata.json'), 'utf8'));
  assert.deepEqual(meta.test, { accuracy: withTta.metrics.accuracy, loss: withTta.metrics.loss, n: 10000, tta: true });
  const plain = await evaluateRun(dir, { plots: false });
  assert.deepEqual(JSON.parse(await readFile(join(dir, 'metadata.json'), 'utf8')).test, {
    accuracy: plain.metrics.accuracy,
    loss: plain.metrics.loss,
    n: 10000,
  });
});

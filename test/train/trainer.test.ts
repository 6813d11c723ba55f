import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import { loadMnist, seededSplitIndices as splitIndices, type Dataset } from '../../src/data/index.js';
import { accuracyAndLoss } from '../../src/metrics/classification.js';
import { probabilitiesOf } from '../helpers/probabilities.js';
import { loadModel } from '../../src/model/io.js';
import { resolveConfig, type TrainConfig } from '../../src/train/config.js';
import { parseHistoryCsv } from '../../src/model/history.js';
import { resume, train, TrainingError } from '../../src/train/trainer.js';

let data: Dataset;
before(async () => {
  await initBackend('wasm');
  data = await loadMnist();
});

const tiny = (overrides: Partial<TrainConfig> = {}): TrainConfig =>
  resolveConfig({ flags: { limit: 1200, valCount: 200, epochs: 2, batchSize: 64, ...overrides } });

const tempDir = () => mkdtemp(join(tmpdir(), 'mnist-cnn-train-'));

function weightsOf(dir: string): Promise<Float32Array[]> {
  return loadModel(dir).then((m) => m.getWeights().map((w) => w.dataSync() as Float32Array));
}

function maxRelativeDifference(a: Float32Array[], b: Float32Array[]): number {
  let worst = 0;
  a.forEach((wa, i) => wa.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - b[i][j]) / (Math.abs(v) + 1e-3)))));
  return worst;
}

test('a small real fit learns: 1 epoch on a stratified 2,000 images beats 80% on the full test set', async () => {
  const result = await train({ config: resolveConfig({ flags: { limit: 2000, epochs: 1 } }), outDir: join(await tempDir(), 'run'), data, updateLatest: false });
  const { accuracy } = accuracyAndLoss(await probabilitiesOf(result.model, data.test), data.test.labels);
  assert.ok(accuracy > 0.8, `test accuracy ${accuracy}`);
  for (const file of ['config.json', 'metadata.json', 'model.json', 'weights.bin', 'history.csv', 'val-indices.json', 'checkpoints/last/state.json']) {
    assert.ok(existsSync(join(result.dir, file)), `${file} in the run folder`);
  }
  const history = parseHistoryCsv(readFileSync(join(result.dir, 'history.csv'), 'utf8'));
  assert.equal(history.length, 1);
  assert.ok(history[0].val_accuracy! > 0.7);
  const metadata = JSON.parse(readFileSync(join(result.dir, 'metadata.json'), 'utf8'));
  assert.equal(metadata.seed, 1);
  assert.equal(metadata.data.files.length, 4);
  assert.ok(metadata.data.files.every((f: { verified: boolean }) => f.verified));
  assert.equal(metadata.preprocessing.scale, 1 / 255);
  assert.equal(metadata.versions['@tensorflow/tfjs'], tf.version.tfjs);
  result.model.dispose();
});

test('the same seed and config give the same weights; another seed other weights', async () => {
  const config = tiny({ arch: 'keras', epochs: 1 }); // keras has dropout: its masks must be seeded too
  const a = await train({ config, outDir: join(await tempDir(), 'a'), data, updateLatest: false });
  const b = await train({ config, outDir: join(await tempDir(), 'b'), data, updateLatest: false });
  const c = await train({ config: { ...config, seed: 2 }, outDir: join(await tempDir(), 'c'), data, updateLatest: false });
  const [wa, wb, wc] = await Promise.all([weightsOf(a.dir), weightsOf(b.dir), weightsOf(c.dir)]);
  assert.equal(maxRelativeDifference(wa, wb), 0);
  assert.ok(maxRelativeDifference(wa, wc) > 1e-3);
  [a, b, c].forEach((r) => r.model.dispose());
});

for (const optimizer of ['adam', 'sgd'] as const) {
  test(`an interrupted run (${optimizer}) resumed from its checkpoint ends where an uninterrupted run ends`, async () => {
    const config = tiny({ optimizer, lr: optimizer === 'sgd' ? 0.05 : 0.004 });
    const whole = await train({ config, outDir: join(await tempDir(), 'whole'), data, updateLatest: false });
    const dir = join(await tempDir(), 'cut');
    // Stop mid-epoch 1 (16 steps per epoch), as Ctrl-C would.
    const cut = await train({ config, outDir: dir, data, stopAfterSteps: 5, updateLatest: false });
    assert.equal(cut.interrupted, true);
    const resumed = await resume(dir, { data, updateLatest: false });
    assert.equal(resumed.interrupted, false);
    assert.deepEqual(resumed.history.map((r) => r.val_accuracy), whole.history.map((r) => r.val_accuracy));
    const diff = maxRelativeDifference(await weightsOf(join(whole.dir, 'checkpoints/last')), await weightsOf(join(dir, 'checkpoints/last')));
    assert.ok(diff < 1e-4, `largest relative weight difference ${diff}`);
    [whole, cut, resumed].forEach((r) => r.model.dispose());
  });
}

test('a NaN loss fails loudly, naming the epoch and batch (a checkpoint with poisoned weights)', async () => {
  const config = tiny();
  const dir = join(await tempDir(), 'nan');
  const cut = await train({ config, outDir: dir, data, stopAfterSteps: 3, updateLatest: false });
  cut.model.dispose();
  const weightsPath = join(dir, 'checkpoints/last/weights.bin');
  const weights = new Float32Array(new Uint8Array(readFileSync(weightsPath)).buffer);
  weights.fill(Number.NaN);
  writeFileSync(weightsPath, new Uint8Array(weights.buffer));
  await assert.rejects(resume(dir, { data, updateLatest: false }), (err: Error) => {
    assert.ok(err instanceof TrainingError);
    assert.match(err.message, /the loss is NaN at epoch 1, batch 4/);
    return true;
  });
});

test('the training split holds out one in twelve by default, seeded', () => {
  const a = splitIndices(data.train.labels, { seed: 1, limit: 0, valCount: null });
  assert.equal(a.val.length, 5000);
  assert.equal(a.train.length + a.val.length, 60000);
  const inVal = new Set(a.val);
  assert.ok(!a.train.some((i) => inVal.has(i)));
  const b = splitIndices(data.train.labels, { seed: 1, limit: 0, valCount: null });
  assert.deepEqual(a.val, b.val);
  const c = splitIndices(data.train.labels, { seed: 2, limit: 0, valCount: null });
  assert.notDeepEqual(a.val, c.val);
  const limited = splitIndices(data.train.labels, { seed: 1, limit: 6000, valCount: null });
  assert.equal(limited.train.length + limited.val.length, 6000);
  assert.equal(limited.val.length, 500);
});

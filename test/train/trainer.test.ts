import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import { loadMnist, seededSplitIndices as splitIndices, type Dataset } from '../../src/data/index.js';
import { accuracyAndLoss } from '../../src/metrics/classification.js';
import { probabilitiesOf } from '../helpers/probabilities.js';
import { loadModel } from '../../src/model/io.js';
import type { TrainConfig } from '../../src/train/config.js';
import { resolveConfig } from '../../src/train/config-file.js';
import { parseHistoryCsv } from '../../src/model/history.js';
import { resume, train, TrainingError } from '../../src/train/trainer.js';
import { UserError } from '../../src/util/errors.js';
import { removeTempDirs, tempDir as makeTempDir } from '../helpers/run-fixtures.js';

let data: Dataset;
before(async () => {
  await initBackend('wasm');
  data = await loadMnist();
});
after(removeTempDirs);

const tiny = (overrides: Partial<TrainConfig> = {}): TrainConfig =>
  resolveConfig({ flags: { limit: 1200, valCount: 200, epochs: 2, batchSize: 64, ...overrides } });

const tempDir = () => makeTempDir('mnist-cnn-train-');

function weightsOf(dir: string): Promise<Float32Array[]> {
  return loadModel(dir).then((m) => m.getWeights().map((w) => w.dataSync() as Float32Array));
}

function maxRelativeDifference(a: Float32Array[], b: Float32Array[]): number {
  let worst = 0;
  a.forEach((wa, i) => wa.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - b[i][j]) / (Math.abs(v) + 1e-3)))));
  return worst;
}

test('a small real fit learns: 1 epoch on a stratified 2,000 images beats 80% on the full test set', async () => {
  const result = await train({
    config: resolveConfig({ flags: { limit: 2000, epochs: 1 } }),
    outDir: join(await tempDir(), 'run'),
    data,
    updateLatest: false,
  });
  const { accuracy } = accuracyAndLoss(await probabilitiesOf(result.model, data.test), data.test.labels);
  assert.ok(accuracy > 0.8, `test accuracy ${accuracy}`);
  for (const file of [
    'config.json',
    'metadata.json',
    'model.json',
    'weights.bin',
    'history.csv',
    'val-indices.json',
    'checkpoints/last/state.json',
  ]) {
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
  const c = await train({
    config: { ...config, seed: 2 },
    outDir: join(await tempDir(), 'c'),
    data,
    updateLatest: false,
  });
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
    assert.deepEqual(
      resumed.history.map((r) => r.val_accuracy),
      whole.history.map((r) => r.val_accuracy),
    );
    // The best epoch is the one with the lowest validation loss at its own fitted temperature.
    const losses = whole.history.map((r) => r.val_loss_calibrated!);
    whole.history.forEach((r) =>
      assert.ok(r.val_loss_calibrated! <= r.val_loss! + 1e-6, 'T = 1 is among the temperatures tried'),
    );
    assert.equal(whole.metadata.bestEpoch, losses.indexOf(Math.min(...losses)) + 1);
    assert.equal(resumed.metadata.bestEpoch, whole.metadata.bestEpoch);
    const diff = maxRelativeDifference(
      await weightsOf(join(whole.dir, 'checkpoints/last')),
      await weightsOf(join(dir, 'checkpoints/last')),
    );
    assert.ok(diff < 1e-4, `largest relative weight difference ${diff}`);
    [whole, cut, resumed].forEach((r) => r.model.dispose());
  });
}

/** Write NaN into every weight of `model` whose name matches. */
function poison(model: tf.LayersModel, name: RegExp): void {
  const weights = model.weights.filter((w) => name.test(w.originalName));
  assert.ok(weights.length > 0, `a weight named like ${name}`);
  tf.tidy(() => weights.forEach((w) => w.write(tf.fill(w.read().shape, Number.NaN))));
}

const stateOf = (dir: string) => JSON.parse(readFileSync(join(dir, 'checkpoints/last/state.json'), 'utf8'));

test('a NaN loss stops training loudly, naming the epoch and batch, and keeps the last checkpoint', async () => {
  const dir = join(await tempDir(), 'nan-loss');
  // 16 steps an epoch: NaN weights after step 20 make the loss of epoch 2, batch 5 NaN.
  const afterStep = ({ model, step }: { model: tf.LayersModel; step: number }) =>
    step === 20 ? poison(model, /./) : undefined;
  await assert.rejects(train({ config: tiny(), outDir: dir, data, updateLatest: false, afterStep }), (err: Error) => {
    assert.ok(err instanceof TrainingError && err instanceof UserError);
    assert.equal(
      err.message,
      `training diverged: the loss is NaN at epoch 2, batch 5 (try a lower --lr); the checkpoint after epoch 1 is kept in ${join(dir, 'checkpoints', 'last')}`,
    );
    return true;
  });
  assert.equal(stateOf(dir).epoch, 1);
  assert.equal(existsSync(join(dir, 'training.lock')), false, 'the run folder is unlocked');
});

test('weights gone NaN while the loss stays finite (batch-norm statistics) stop training at the end of the epoch', async () => {
  const dir = join(await tempDir(), 'nan-weights');
  // The moving statistics are not used in training mode: the loss stays finite, only the weights tell.
  const afterStep = ({ model, step }: { model: tf.LayersModel; step: number }) =>
    step === 18 ? poison(model, /moving_mean/) : undefined;
  await assert.rejects(train({ config: tiny(), outDir: dir, data, updateLatest: false, afterStep }), (err: Error) => {
    assert.ok(err instanceof TrainingError);
    assert.match(
      err.message,
      /^training diverged: the weights of batch_normalization\w*\/moving_mean are NaN or infinite after epoch 2 \(try a lower --lr\); the checkpoint after epoch 1 is kept/,
    );
    return true;
  });
  assert.equal(stateOf(dir).epoch, 1);
});

test('a checkpoint with NaN weights or a NaN optimizer state is refused at resume, naming the file', async () => {
  const dir = join(await tempDir(), 'nan-checkpoint');
  const cut = await train({ config: tiny(), outDir: dir, data, stopAfterSteps: 3, updateLatest: false });
  cut.model.dispose();
  for (const file of ['weights.bin', 'optimizer.bin']) {
    const path = join(dir, 'checkpoints/last', file);
    const good = readFileSync(path);
    const values = new Float32Array(new Uint8Array(good).buffer);
    values.fill(Number.NaN);
    writeFileSync(path, new Uint8Array(values.buffer));
    await assert.rejects(resume(dir, { data, updateLatest: false }), (err: Error) => {
      assert.ok(err instanceof UserError);
      assert.ok(err.message.startsWith(`${path}: the `), err.message);
      assert.match(err.message, /are NaN or infinite|is NaN or infinite/);
      return true;
    });
    writeFileSync(path, good);
  }
  // Put back, it resumes.
  const resumed = await resume(dir, { data, updateLatest: false });
  assert.equal(resumed.interrupted, false);
  resumed.model.dispose();
});

test('a ten-output checkpoint (outlier exposure, before the 11th output) does not resume with non-digits, naming the checkpoint', async () => {
  // A ten-output run cut short, its config then asking for non-digits: what an older run trained
  // with outlier exposure looks like to this code.
  const dir = join(await tempDir(), 'ten-outputs');
  const cut = await train({ config: tiny(), outDir: dir, data, stopAfterSteps: 3, updateLatest: false });
  cut.model.dispose();
  const configPath = join(dir, 'config.json');
  writeFileSync(configPath, JSON.stringify({ ...JSON.parse(readFileSync(configPath, 'utf8')), nonDigits: 0.25 }));
  await assert.rejects(resume(dir, { data, updateLatest: false, allowConfigChange: true }), (err: Error) => {
    assert.ok(err instanceof UserError);
    assert.ok(
      err.message.startsWith(
        `${join(dir, 'checkpoints', 'last')}: this checkpoint's model has no "not a digit" output`,
      ),
      err.message,
    );
    return true;
  });
});

test('a second training in a run folder that is training is refused; the folder is unlocked at the end', async () => {
  const dir = join(await tempDir(), 'locked');
  const refusals: unknown[] = [];
  const afterStep = async ({ step }: { step: number }) => {
    if (step !== 1) return;
    await train({ config: tiny({ epochs: 5 }), outDir: dir, data, updateLatest: false }).catch((err) =>
      refusals.push(err),
    );
    await resume(dir, { data, updateLatest: false }).catch((err) => refusals.push(err));
  };
  const result = await train({ config: tiny({ epochs: 1 }), outDir: dir, data, updateLatest: false, afterStep });
  result.model.dispose();
  assert.equal(refusals.length, 2);
  for (const err of refusals) {
    assert.ok(err instanceof UserError);
    assert.match(
      err.message,
      new RegExp(`^${dir} is in use by another training \\(process ${process.pid} on this machine`),
    );
  }
  assert.equal(
    JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).epochs,
    1,
    "config.json is the first training's",
  );
  assert.equal(existsSync(join(dir, 'training.lock')), false);
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

test('a finished run records its calibration temperature fitted on the validation split; without one (valCount 0) T = 1 and why', async () => {
  const withVal = await train({
    config: tiny({ epochs: 1 }),
    outDir: join(await tempDir(), 'run'),
    data,
    updateLatest: false,
  });
  try {
    const fit = withVal.metadata.temperatureFit;
    assert.ok(fit?.on === 'val', JSON.stringify(fit));
    assert.equal(fit.n, 200);
    const t = withVal.metadata.temperature!;
    assert.ok(t > 0.05 && t < 20 && t !== 1, `temperature ${t}`);
    // Minimising the validation NLL cannot make it worse than T = 1.
    assert.ok(fit.after.nll <= fit.before.nll + 1e-9, `NLL ${fit.before.nll} → ${fit.after.nll}`);
    assert.deepEqual(JSON.parse(readFileSync(join(withVal.dir, 'metadata.json'), 'utf8')).temperatureFit, fit);
  } finally {
    withVal.model.dispose();
  }
  const noVal = await train({
    config: tiny({ epochs: 1, valCount: 0 }),
    outDir: join(await tempDir(), 'run'),
    data,
    updateLatest: false,
  });
  noVal.model.dispose();
  assert.equal(noVal.metadata.temperature, 1);
  assert.deepEqual(noVal.metadata.temperatureFit, {
    on: 'none',
    reason: 'no validation split (valCount 0): nothing held out to fit a temperature on',
  });
});

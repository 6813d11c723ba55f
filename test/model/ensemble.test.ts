import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import { loadMnist } from '../../src/data/load.js';
import { PIXELS, type ImageSet } from '../../src/data/types.js';
import { calibrateRun, evaluateRun } from '../../src/evaluate/evaluate.js';
import { buildReport } from '../../src/evaluate/report.js';
import { buildModel } from '../../src/model/architectures.js';
import { buildEnsembleRun, ensembleModel } from '../../src/model/ensemble.js';
import { probabilitiesOf } from '../helpers/probabilities.js';
import { loadModel, saveModel } from '../../src/model/io.js';
import { readMetadata } from '../../src/model/run.js';
import { startServer } from '../../src/serve/server.js';
import { temperatureFit } from '../../src/metrics/calibration.js';
import { quickRunDir } from '../helpers/quick-run.js';
import { removeTempDirs, tempDir } from '../helpers/run-fixtures.js';

let quickRun: string;
let work: string;
let images: ImageSet;

before(async () => {
  await initBackend('wasm');
  quickRun = await quickRunDir();
  work = await tempDir('mnist-cnn-ensemble-');
  const test10k = (await loadMnist()).test;
  const n = 64;
  images = { images: test10k.images.subarray(0, n * PIXELS), labels: test10k.labels.subarray(0, n), count: n };
});

after(removeTempDirs);

function cli(...args: string[]) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function maxDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

function meanOfRows(all: Float32Array[]): Float32Array {
  const mean = new Float32Array(all[0].length);
  for (const probs of all) probs.forEach((p, i) => (mean[i] += p / all.length));
  return mean;
}

/** Another model of the same architecture: the kernels scaled by seeded noise, so its probabilities differ. */
function perturb(model: tf.LayersModel, seed: number): void {
  const weights = model.weights.map((w, k) =>
    w.originalName.endsWith('/kernel')
      ? tf.tidy(() => tf.mul(w.read(), tf.randomNormal(w.shape as number[], 1, 0.3, 'float32', seed + k)))
      : w.read().clone(),
  );
  model.setWeights(weights);
  tf.dispose(weights);
}

/** A second run folder: a copy of `source` whose model is perturbed and whose seed is `seed`. */
async function perturbedRun(source: string, name: string, seed: number): Promise<string> {
  const dir = join(work, name);
  await cp(source, dir, { recursive: true });
  const model = await loadModel(dir);
  perturb(model, seed);
  await saveModel(model, dir);
  model.dispose();
  await rewriteMetadata(dir, (meta) => ({ ...meta, seed }));
  return dir;
}

async function rewriteMetadata(
  dir: string,
  change: (meta: Record<string, unknown>) => Record<string, unknown>,
): Promise<void> {
  const path = join(dir, 'metadata.json');
  await writeFile(path, JSON.stringify(change(JSON.parse(await readFile(path, 'utf8')))));
}

test("an ensemble computes the mean of its members' probabilities, and survives save → load with identical outputs", async () => {
  const trained = await loadModel(quickRun);
  const sameArch = await loadModel(quickRun);
  perturb(sameArch, 5);
  const members = [trained, sameArch, buildModel('lenet5', 7)];
  const memberProbs: Float32Array[] = [];
  for (const member of members) memberProbs.push(await probabilitiesOf(member, images));
  assert.ok(maxDifference(memberProbs[0], memberProbs[1]) > 1e-3, 'the perturbed member predicts differently');
  const expected = meanOfRows(memberProbs);

  const ensemble = ensembleModel(members);
  assert.deepEqual(ensemble.inputs[0].shape, [null, 28, 28, 1]);
  assert.deepEqual(ensemble.outputs[0].shape, [null, 10]);
  assert.equal(
    ensemble.countParams(),
    members.reduce((sum, m) => sum + m.countParams(), 0),
  );
  // The ensemble owns copies of the weights: the members can go.
  for (const member of members) member.dispose();
  assert.ok(maxDifference(await probabilitiesOf(ensemble, images), expected) < 1e-6);

  const dir = join(work, 'saved-ensemble');
  await saveModel(ensemble, dir);
  const loaded = await loadModel(dir);
  const names = loaded.layers.map((l) => l.name);
  assert.equal(new Set(names).size, names.length, 'layer names are unique');
  assert.ok(maxDifference(await probabilitiesOf(loaded, images), expected) < 1e-6);
  ensemble.dispose();
  loaded.dispose();
});

test('an ensemble of one model computes what the model does', async () => {
  const member = await loadModel(quickRun);
  const ensemble = ensembleModel([member]);
  assert.ok(maxDifference(await probabilitiesOf(ensemble, images), await probabilitiesOf(member, images)) < 1e-6);
  member.dispose();
  ensemble.dispose();
});

test('members that take other shapes are refused, naming the one that differs', async () => {
  const member = await loadModel(quickRun);
  const small = tf.sequential({
    layers: [tf.layers.flatten({ inputShape: [14, 14, 1] }), tf.layers.dense({ units: 10, activation: 'softmax' })],
  });
  assert.throws(
    () => ensembleModel([member, small], ['runs/a', 'runs/b']),
    /runs\/b: takes \[null, 14, 14, 1\] to \[null, 10\], but runs\/a takes \[null, 28, 28, 1\] to \[null, 10\]/,
  );
  member.dispose();
  small.dispose();
});

test('`ensemble` writes a run folder that evaluate, predict and serve use like any run', async () => {
  const second = await perturbedRun(quickRun, 'second-run', 99);
  const out = join(work, 'ensemble-run');
  const made = cli('ensemble', quickRun, second, '--out', out, '--json');
  assert.equal(made.status, 0, made.stderr);
  assert.equal(JSON.parse(made.stdout).dir, out);

  const meta = await readMetadata(out);
  const first = await readMetadata(quickRun);
  assert.equal(meta.arch, 'ensemble');
  assert.equal(meta.params, 2 * first.params);
  assert.deepEqual(meta.members, [quickRun, second]);
  assert.deepEqual(meta.memberSeeds, [first.seed, 99]);
  assert.deepEqual(meta.classNames, first.classNames);
  assert.equal(meta.test, undefined, 'no test figures until the ensemble is evaluated');
  assert.equal(await readFile(join(out, 'config.json'), 'utf8'), await readFile(join(quickRun, 'config.json'), 'utf8'));
  assert.equal(
    await readFile(join(out, 'val-indices.json'), 'utf8'),
    await readFile(join(quickRun, 'val-indices.json'), 'utf8'),
  );

  // evaluate (on the members' shared validation split, to keep it short): the mean of the members' probabilities.
  const evaluated = cli('evaluate', out, '--split', 'val', '--json');
  assert.equal(evaluated.status, 0, evaluated.stderr);
  const metrics = JSON.parse(evaluated.stdout);
  assert.equal(metrics.arch, 'ensemble');
  const { set } = await evaluateRun(out, { split: 'val', write: false });
  const memberProbs = await Promise.all(
    [quickRun, second].map(async (dir) => {
      const model = await loadModel(dir);
      const probs = await probabilitiesOf(model, set);
      model.dispose();
      return probs;
    }),
  );
  assert.ok(maxDifference(memberProbs[0], memberProbs[1]) > 1e-3, 'the members predict differently');
  const mean = meanOfRows(memberProbs);
  // Its own temperature, fitted on the same validation split on the mean of the members (not a member's).
  const fit = temperatureFit(mean, set.labels);
  assert.ok(
    Math.abs(meta.temperature! - fit.temperature) < 1e-3 * fit.temperature,
    `ensemble T ${meta.temperature}, on the mean ${fit.temperature}`,
  );
  assert.ok(
    meta.temperatureFit?.on === 'val' && meta.temperatureFit.n === set.count,
    JSON.stringify(meta.temperatureFit),
  );
  assert.equal(JSON.parse(made.stdout).temperature, meta.temperature);
  assert.equal(metrics.temperature, meta.temperature);
  const saved = await loadModel(out);
  assert.ok(maxDifference(await probabilitiesOf(saved, set), mean) < 1e-6);
  saved.dispose();
  const argmax = Array.from({ length: set.count }, (_, i) => {
    const row = Array.from(mean.subarray(i * 10, (i + 1) * 10));
    return row.indexOf(Math.max(...row));
  });
  assert.equal(metrics.predictions, argmax.join(''));
  assert.match(await readFile(await buildReport(out), 'utf8'), /ensemble/);

  // predict: an MNIST test image as a PNG file.
  const png = join(work, 'seven.png');
  await sharp(Buffer.from(images.images.subarray(0, PIXELS)), { raw: { width: 28, height: 28, channels: 1 } })
    .png()
    .toFile(png);
  assert.equal(images.labels[0], 7);
  const predicted = cli('predict', out, png, '--format', 'json');
  assert.equal(predicted.status, 0, predicted.stderr);
  assert.match(predicted.stdout, /"digit":\s*7/);

  const server = await startServer({ runDir: out, port: 0 });
  try {
    const info = await (await fetch(`${server.url}/v1/model`)).json();
    assert.equal(info.arch, 'ensemble');
    assert.equal(info.temperature, meta.temperature);
    const response = await fetch(`${server.url}/v1/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ pixels: Array.from(images.images.subarray(0, PIXELS)) }),
    });
    assert.equal(response.status, 200);
    assert.equal((await response.json()).digit, 7);
  } finally {
    await server.close();
  }
});

test('an ensemble run is refused for fewer than 2 runs, a missing model, another dataset or classes, or an --out run', async () => {
  const out = (name: string) => join(work, name);
  await assert.rejects(buildEnsembleRun([quickRun], out('one')), /at least 2 runs, got 1/);

  const noModel = join(work, 'no-model');
  await cp(quickRun, noModel, { recursive: true });
  await rm(join(noModel, 'model.json'));
  await assert.rejects(
    buildEnsembleRun([quickRun, noModel], out('x1')),
    (err: Error) => err.name === 'UserError' && err.message.includes(join(noModel, 'model.json')),
  );

  const fashion = join(work, 'fashion');
  await cp(quickRun, fashion, { recursive: true });
  await rewriteMetadata(fashion, (meta) => ({ ...meta, data: { ...(meta.data as object), dataset: 'fashion-mnist' } }));
  await assert.rejects(
    buildEnsembleRun([quickRun, fashion], out('x2')),
    (err: Error) => err.name === 'UserError' && err.message.startsWith(`${fashion}: dataset "fashion-mnist" differs`),
  );

  const renamed = join(work, 'renamed-classes');
  await cp(quickRun, renamed, { recursive: true });
  await rewriteMetadata(renamed, (meta) => ({
    ...meta,
    classNames: (meta.classNames as string[]).map((c) => `class ${c}`),
  }));
  await assert.rejects(buildEnsembleRun([quickRun, renamed], out('x3')), (err: Error) =>
    err.message.startsWith(`${renamed}: class names`),
  );

  // An existing run is never overwritten: the quick run itself as --out.
  await assert.rejects(buildEnsembleRun([quickRun, quickRun], quickRun), /already holds a run/);
  const refused = cli('ensemble', quickRun, '--out', out('x4'));
  assert.equal(refused.status, 2);
  assert.match(refused.stderr, /error: an ensemble needs at least 2 runs/);
});

test('an ensemble of runs with not-a-digit thresholds starts with the lowest, and keeps it where nothing is held out to refit it on; one member without a threshold gives none', async () => {
  const rule = (below: number) => ({
    below,
    digitsRefused: 0.003,
    nonDigitsRefused: 0.9,
    digits: 5000,
    nonDigits: 520,
  });
  const [a, b, c] = ['nd-a', 'nd-b', 'nd-c'].map((name) => join(work, name));
  for (const dir of [a, b, c]) await cp(quickRun, dir, { recursive: true });
  await rewriteMetadata(a, (meta) => ({ ...meta, nonDigitRule: rule(3.5) }));
  await rewriteMetadata(b, (meta) => ({ ...meta, nonDigitRule: rule(2.5) }));
  const both = await buildEnsembleRun([a, b], join(work, 'nd-ab'));
  assert.equal(both.metadata.nonDigitRule?.below, 2.5);
  const mixed = await buildEnsembleRun([a, c], join(work, 'nd-ac'));
  assert.equal(mixed.metadata.nonDigitRule, undefined);
  // Members that held out different images: no val-indices.json, so `ensemble`'s refit
  // (calibrateRun; test/model/ensemble.non-digits.test.ts) leaves the stand-in, as it leaves T = 1.
  await writeFile(join(b, 'val-indices.json'), '[0, 1, 2]');
  const apart = await buildEnsembleRun([a, b], join(work, 'nd-apart'));
  const calibration = await calibrateRun(apart.dir);
  assert.equal(calibration.nonDigitRule, undefined);
  assert.equal(calibration.temperatureFit.on, 'none');
  assert.equal((await readMetadata(apart.dir)).nonDigitRule?.below, 2.5);
});

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import onnxProto from 'onnx-proto';
import { argmaxRows } from '../../src/metrics/classification.js';
import { loadMnist } from '../../src/data/load.js';
import { NUM_CLASSES, PIXELS } from '../../src/data/types.js';
import { buildModel } from '../../src/model/architectures.js';
import { buildEnsembleRun } from '../../src/model/ensemble.js';
import { loadModel } from '../../src/model/io.js';
import { layersModelToOnnx } from '../../src/model/onnx.js';
import { exportRunToOnnx } from '../../src/export/onnx.js';
import {
  assertOnnxAgrees,
  compareProbabilities,
  ONNX_TOLERANCE,
  tfjsProbabilities,
  verifyOnnx,
} from '../../src/export/verify.js';
import { quickRunDir } from '../helpers/quick-run.js';
import { calibratedRun } from '../helpers/calibrated-run.js';
import { ALL, exportCli, metadataProps, scaledTestSet, SOME } from '../helpers/onnx.js';
import { onnxAgainstTfjs, onnxRuntimeProbabilities, softmaxOfLogits } from '../helpers/probabilities.js';
import { disagreeingCopy } from '../helpers/run-fixtures.js';
import { calibrateRun } from '../../src/evaluate/evaluate.js';
import { Predictor } from '../../src/predict/predictor.js';

/**
 * A run folder's model as an ONNX file (src/export/onnx.ts), the check against TensorFlow.js
 * (src/export/verify.ts) and `mnist-cnn export`. The converter itself is test/model/onnx.test.ts's.
 */

let work: string;
let images: Float32Array;
let labels: Uint8Array;

before(async () => {
  ({ images, labels } = await scaledTestSet());
  work = await mkdtemp(join(tmpdir(), 'mnist-cnn-onnx-'));
});

after(async () => {
  await rm(work, { recursive: true, force: true });
});

/** ONNX Runtime's and TensorFlow.js's probabilities on the first `count` test images, compared. */
const compare = (bytes: Uint8Array, model: tf.LayersModel, count: number) =>
  onnxAgainstTfjs(bytes, model, images, count);

test("verifyOnnx's reference with a temperature (softmax(log p / T)) is softmax(logits / T), as the ONNX model computes it", async () => {
  const count = 1000;
  const model = await loadModel(await quickRunDir());
  const bytes = layersModelToOnnx(model, { temperature: 2 });
  const reference = tfjsProbabilities(model, images, count, { temperature: 2 });
  assert.ok(
    compareProbabilities(reference, softmaxOfLogits(model, images, count, 2), NUM_CLASSES).maxAbsDiff <= ONNX_TOLERANCE,
  );
  // Really tempered: far from the untempered probabilities.
  assert.ok(compareProbabilities(reference, softmaxOfLogits(model, images, count, 1), NUM_CLASSES).maxAbsDiff > 1e-2);
  const check = await verifyOnnx(bytes, model, images, count, { temperature: 2 });
  assert.ok(check.maxAbsDiff <= ONNX_TOLERANCE && check.argmaxAgree === count, `max difference ${check.maxAbsDiff}`);
  model.dispose();
});

test('verifyOnnx catches a model that does not reproduce TensorFlow.js', async () => {
  const model = buildModel('compact', 41);
  const other = buildModel('compact', 42);
  const check = await verifyOnnx(layersModelToOnnx(model), other, images, 500);
  assert.ok(check.maxAbsDiff > 1e-2);
  assert.ok(check.argmaxAgree < 500);
  assert.throws(
    () => assertOnnxAgrees(check),
    (err: Error) =>
      err.name === 'UserError' &&
      /does not reproduce the TensorFlow\.js model: max probability difference/.test(err.message),
  );
  model.dispose();
  other.dispose();
});

test('a trained run exports to <run>/model.onnx with its input contract; on the 10,000 test images it scores as TensorFlow.js does', async () => {
  const run = join(work, 'trained');
  await cp(await quickRunDir(), run, { recursive: true });
  // A run made before calibration: nothing to fold in.
  const { temperature: _t, ...uncalibrated } = JSON.parse(await readFile(join(run, 'metadata.json'), 'utf8'));
  await writeFile(join(run, 'metadata.json'), JSON.stringify(uncalibrated));
  const result = await exportRunToOnnx(run);
  assert.equal(result.path, join(run, 'model.onnx'));
  assert.equal(result.temperature, undefined);
  const bytes = new Uint8Array(await readFile(result.path));
  assert.equal(bytes.length, result.bytes);
  const props = metadataProps(bytes);
  const metadata = JSON.parse(await readFile(join(run, 'metadata.json'), 'utf8'));
  assert.deepEqual(JSON.parse(props.preprocessing), metadata.preprocessing);
  assert.deepEqual(JSON.parse(props.classNames), metadata.classNames);
  assert.deepEqual(JSON.parse(props.inputShape), [28, 28, 1]);
  assert.equal(props.arch, 'default');
  assert.equal(props.temperature, undefined);
  assert.equal(onnxProto.onnx.ModelProto.decode(bytes).producerName, 'mnist-cnn');

  const model = await loadModel(run);
  const { ours, reference, maxAbsDiff, argmaxAgree } = await compare(bytes, model, ALL);
  assert.ok(maxAbsDiff <= ONNX_TOLERANCE, `max difference ${maxAbsDiff}`);
  assert.equal(argmaxAgree, ALL);
  const correct = (probs: Float32Array) => argmaxRows(probs).filter((digit, i) => digit === labels[i]).length;
  assert.equal(correct(ours), correct(reference));
  assert.ok(correct(ours) > 9000, `a trained net: ${correct(ours)} of 10,000 right`);
  model.dispose();
});

test('an ensemble run folder (saved by `ensemble`, loaded back) exports, with arch ensemble in its metadata', async () => {
  const quick = await quickRunDir();
  const second = await disagreeingCopy(quick, join(work, 'second'));
  const { dir } = await buildEnsembleRun([quick, second], join(work, 'ensemble-run'));
  const { path } = await exportRunToOnnx(dir);
  const bytes = new Uint8Array(await readFile(path));
  assert.equal(metadataProps(bytes).arch, 'ensemble');
  const ensemble = await loadModel(dir);
  const { maxAbsDiff, argmaxAgree } = await compare(bytes, ensemble, SOME);
  assert.ok(maxAbsDiff <= ONNX_TOLERANCE, `max difference ${maxAbsDiff}`);
  assert.equal(argmaxAgree, SOME);
  ensemble.dispose();
});

test('`export --format onnx` folds in a temperature from metadata.json, checks on the 10,000 test images, and refuses what it cannot write', async (t) => {
  const run = join(work, 'calibrated');
  await cp(await quickRunDir(), run, { recursive: true });
  const metaPath = join(run, 'metadata.json');
  await writeFile(metaPath, JSON.stringify({ ...JSON.parse(await readFile(metaPath, 'utf8')), temperature: 1.5 }));
  const out = join(work, 'exports', 'calibrated.onnx');
  const lines = await exportCli(t, run, '--format', 'onnx', '--out', out);
  assert.match(
    lines[0],
    /^checked on 10,000 test images: max probability difference \S+ \(allowed 1e-5\), 10,000 of 10,000 predicted classes equal/,
  );
  assert.match(lines[1], /^wrote .*calibrated\.onnx \(1\.7 MB, ONNX opset 13, temperature 1\.5 folded in\)$/);
  const bytes = new Uint8Array(await readFile(out));
  assert.equal(metadataProps(bytes).temperature, '1.5');
  const model = await loadModel(run);
  const ours = await onnxRuntimeProbabilities(bytes, images, 1000);
  assert.ok(
    compareProbabilities(ours, softmaxOfLogits(model, images, 1000, 1.5), NUM_CLASSES).maxAbsDiff <= ONNX_TOLERANCE,
  );
  model.dispose();

  assert.deepEqual(await exportCli(t, run, '--format', 'onnx', '--no-verify', '--quiet'), []);
  assert.ok(existsSync(join(run, 'model.onnx')));

  // A refused export leaves no file, not even a temporary one.
  await rm(join(run, 'model.onnx'));
  await writeFile(metaPath, JSON.stringify({ ...JSON.parse(await readFile(metaPath, 'utf8')), temperature: -1 }));
  await assert.rejects(exportCli(t, run, '--format', 'onnx'), /temperature -1 is not a positive number/);
  assert.deepEqual(
    (await readdir(run)).filter((f) => f.includes('onnx')),
    [],
  );
  await assert.rejects(exportCli(t, run, '--out', out), /required option '--format <format>' not specified/);
});

test("an export folds in the run's fitted temperature: ONNX Runtime gives the Predictor's calibrated probabilities, for a run and for an ensemble", async () => {
  const count = 1000;
  const set = {
    images: (await loadMnist()).test.images.subarray(0, count * PIXELS),
    labels: labels.subarray(0, count),
    count,
  };
  const calibrated = await calibratedRun(await quickRunDir());
  const ensembleDir = join(work, 'ensemble-calibrated');
  try {
    await buildEnsembleRun([calibrated.dir, await quickRunDir()], ensembleDir);
    const { temperature: ensembleT } = await calibrateRun(ensembleDir);
    for (const [dir, temperature] of [
      [calibrated.dir, calibrated.temperature],
      [ensembleDir, ensembleT],
    ] as const) {
      assert.ok(Math.abs(temperature - 1) > 0.02, `${dir}: T = ${temperature}`);
      const result = await exportRunToOnnx(dir, join(work, 'calibrated-check.onnx'));
      assert.equal(result.temperature, temperature);
      const ours = await onnxRuntimeProbabilities(new Uint8Array(await readFile(result.path)), images, count);
      const predictor = await Predictor.load(dir);
      const [answers, raw] = [
        await predictor.probabilities(set),
        await predictor.probabilities(set, { calibrated: false }),
      ];
      await predictor.close();
      const check = compareProbabilities(ours, answers, NUM_CLASSES);
      assert.ok(check.maxAbsDiff <= ONNX_TOLERANCE, `${dir}: max difference ${check.maxAbsDiff}`);
      assert.equal(check.argmaxAgree, count);
      assert.ok(
        compareProbabilities(ours, raw, NUM_CLASSES).maxAbsDiff > 1e-2,
        'the temperature changes the probabilities',
      );
    }
  } finally {
    await calibrated.remove();
  }
});

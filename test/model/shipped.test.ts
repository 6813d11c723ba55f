/**
 * The model the package ships (models/default/, made by `npm run model:release`): the files are
 * the ones the release recorded, the recipe that made them is `npm start`'s, and it reads the
 * MNIST test set as well as the release says (measured here again, not read back).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { loadMnist } from '../../src/data/load.js';
import { RELEASE_FILE, type ReleaseRecord } from '../../src/model/release.js';
import { readMetadata, resolveRunDir } from '../../src/model/run.js';
import { DEFAULT_SHIPPED_MODEL, shippedModelDir, shippedModelOf, SHIPPED_MODELS } from '../../src/model/shipped.js';
import { Predictor } from '../../src/predict/predictor.js';
import { resolveConfig } from '../../src/train/config-file.js';
import { digitColumns } from '../../src/metrics/classification.js';
import { onnxRuntimeProbabilities } from '../helpers/probabilities.js';
import { scaledTestSet } from '../helpers/onnx.js';

/** The bar for the shipped model's test accuracy. */
const MIN_TEST_ACCURACY = 0.994;

const dir = shippedModelDir(DEFAULT_SHIPPED_MODEL);
const release = JSON.parse(await readFile(join(dir, RELEASE_FILE), 'utf8')) as ReleaseRecord;
const sha256 = async (path: string) =>
  createHash('sha256')
    .update(await readFile(path))
    .digest('hex');

test('every shipped file is the one the release recorded, and nothing else is in the folder', async () => {
  const present = (await readdir(dir)).filter((name) => name !== RELEASE_FILE).sort();
  assert.deepEqual(present, Object.keys(release.files).sort());
  for (const [file, recorded] of Object.entries(release.files))
    assert.equal(await sha256(join(dir, file)), recorded, `${file} differs from its release`);
  const meta = await readMetadata(dir);
  assert.equal(meta.weightsSha256, release.files['weights.bin'], 'metadata.json records the shipped weights');
});

test("the metadata names the recipe that made the model: npm start's preset at the release's seed, with its seed, checksums and preprocessing", async () => {
  const meta = await readMetadata(dir);
  assert.equal(release.recipe, 'start');
  assert.equal(release.command, `npm run model:release -- --seed ${release.seed}`);
  assert.ok(
    isDeepStrictEqual(meta.config, resolveConfig({ preset: release.recipe, flags: { seed: release.seed } })),
    'config.json is the recipe, unchanged',
  );
  assert.equal(meta.seed, release.seed);
  assert.equal(meta.data.files.length, 4);
  for (const file of meta.data.files) assert.match(file.sha256, /^[0-9a-f]{64}$/);
  // No path of the machine that made it.
  assert.doesNotMatch(JSON.stringify(meta.data), /\/(work|home|tmp|root)\//);
  assert.ok(meta.preprocessing, 'the preprocessing spec travels with the model');
  assert.ok(meta.nonDigitRule && meta.temperature, 'the not-a-digit rule and the temperature travel with the model');
});

test(`the shipped model reads the MNIST test set at >= ${MIN_TEST_ACCURACY * 100}%, as its release says, its ONNX file agrees, and its int8 copy keeps the accuracy`, async () => {
  const data = await loadMnist();
  const predictor = await Predictor.load(DEFAULT_SHIPPED_MODEL, { threads: 2 });
  let probs: Float32Array;
  try {
    assert.equal(predictor.dir, resolveRunDir(dir));
    probs = digitColumns(await predictor.probabilities(data.test), predictor.outputs);
  } finally {
    await predictor.close();
  }
  let right = 0;
  for (let i = 0; i < data.test.count; i++) {
    const row = probs.subarray(i * 10, i * 10 + 10);
    if (row.indexOf(Math.max(...row)) === data.test.labels[i]) right++;
  }
  const accuracy = right / data.test.count;
  assert.ok(accuracy >= MIN_TEST_ACCURACY, `test accuracy ${accuracy}`);
  assert.equal(accuracy, release.test.accuracy, 'the release recorded the accuracy measured here');

  // model.onnx (temperature folded in, eleven outputs) picks the same digit for every test image.
  const { images } = await scaledTestSet();
  const onnx = await onnxRuntimeProbabilities(await readFile(join(dir, release.onnx.file)), images, data.test.count);
  const width = onnx.length / data.test.count;
  let disagree = 0;
  for (let i = 0; i < data.test.count; i++) {
    const a = onnx.subarray(i * width, i * width + 10);
    const b = probs.subarray(i * 10, i * 10 + 10);
    if (a.indexOf(Math.max(...a)) !== b.indexOf(Math.max(...b))) disagree++;
  }
  assert.equal(disagree, 0);

  // The int8 copy a quick start runs: within 0.05 points of the model's test accuracy, as the release measured.
  assert.equal(release.quickStart, release.int8?.file);
  const int8 = await onnxRuntimeProbabilities(await readFile(join(dir, release.int8!.file)), images, data.test.count);
  let int8Right = 0;
  for (let i = 0; i < data.test.count; i++) {
    const row = int8.subarray(i * width, i * width + 10);
    if (row.indexOf(Math.max(...row)) === data.test.labels[i]) int8Right++;
  }
  assert.ok(int8Right / data.test.count >= accuracy - 0.0005, `int8 test accuracy ${int8Right / data.test.count}`);
  assert.equal(int8Right / data.test.count, release.int8!.accuracy);
});

test('a shipped model is found by its name, and known as shipped (read-only) by its folder', () => {
  assert.deepEqual([...SHIPPED_MODELS], ['default']);
  assert.equal(shippedModelOf(dir), 'default');
  assert.equal(shippedModelOf(join(dir, '..')), undefined);
  assert.equal(resolveRunDir('default'), resolveRunDir(dir));
});

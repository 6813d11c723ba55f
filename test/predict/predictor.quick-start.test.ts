/**
 * `quickStart`: a release's exported ONNX file run as it is, without TensorFlow.js (what
 * `mnist-cnn predict` does with the shipped model). Its answers are the loaded model's; anything
 * changed in the release folder since it was made brings the model itself back.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, writeFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadMnist } from '../../src/data/load.js';
import { preprocessMnistPixels } from '../../src/image/preprocess.js';
import { shippedModelDir } from '../../src/model/shipped.js';
import { Predictor } from '../../src/predict/predictor.js';
import { removeTempDirs, tempDir } from '../helpers/run-fixtures.js';

const data = await loadMnist();
const inputs = Array.from({ length: 500 }, (_, i) =>
  preprocessMnistPixels(data.test.images.subarray(i * 784, (i + 1) * 784)),
);
after(removeTempDirs);

async function answersOf(dir: string, quickStart: boolean) {
  const predictor = await Predictor.load(dir, { quickStart });
  try {
    let hasModel = true;
    try {
      void predictor.model;
    } catch {
      hasModel = false;
    }
    return {
      answers: await predictor.predict(inputs),
      hasModel,
      temperature: predictor.temperature,
      rule: predictor.rule,
    };
  } finally {
    await predictor.close();
  }
}

test("the shipped model quick-started runs the release's int8 copy: the loaded model's answers on all but a few images, its temperature and rule, without a TensorFlow.js model", async () => {
  const quick = await answersOf('default', true);
  const loaded = await answersOf('default', false);
  assert.equal(quick.hasModel, false);
  assert.equal(loaded.hasModel, true);
  assert.equal(quick.temperature, loaded.temperature);
  assert.deepEqual(quick.rule, loaded.rule);
  // The int8 copy answered as the model on 9,997 of the 10,000 test images when it was released (release.json).
  const differ = inputs.filter(
    (_, i) =>
      quick.answers[i].digit !== loaded.answers[i].digit || quick.answers[i].reason !== loaded.answers[i].reason,
  ).length;
  assert.ok(differ <= inputs.length * 0.01, `${differ} of ${inputs.length} answers differ`);
  const largest = Math.max(
    ...inputs.flatMap((_, i) =>
      quick.answers[i].probabilities.map((p, k) => Math.abs(p - loaded.answers[i].probabilities[k])),
    ),
  );
  assert.ok(
    largest > 0 && largest < 0.1,
    `the int8 copy's probabilities are its own, and close: largest difference ${largest}`,
  );
});

test('a quick-started Predictor refuses to give uncalibrated probabilities, saying why', async () => {
  const predictor = await Predictor.load('default', { quickStart: true });
  try {
    await assert.rejects(
      predictor.probabilities(data.test, { calibrated: false }),
      /exported ONNX file \(quickStart\), whose probabilities are calibrated/,
    );
  } finally {
    await predictor.close();
  }
});

test('a release folder whose quick-start ONNX file or metadata changed since is not quick-started: the model itself answers', async () => {
  const release = JSON.parse(await readFile(join(shippedModelDir(), 'release.json'), 'utf8')) as { quickStart: string };
  for (const file of [release.quickStart, 'metadata.json']) {
    const dir = join(await tempDir('mnist-cnn-quick-start-'), 'release');
    await cp(shippedModelDir(), dir, { recursive: true });
    const path = join(dir, file);
    const bytes = await readFile(path);
    // Not the bytes the release recorded: metadata.json still valid JSON, the ONNX file cut short.
    await writeFile(
      path,
      file === 'metadata.json' ? Buffer.concat([bytes, Buffer.from('\n')]) : bytes.subarray(0, bytes.length - 1),
    );
    const { hasModel } = await answersOf(dir, true);
    assert.equal(hasModel, true, `${file} changed: the model is loaded`);
  }
  // And a temperature other than the release's needs the model too.
  const predictor = await Predictor.load('default', { quickStart: true, temperature: 1 });
  try {
    assert.ok(predictor.model);
  } finally {
    await predictor.close();
  }
});

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportRunToOnnx } from '../../src/export/onnx.js';
import { quantizeRunOnnx } from '../../src/export/int8.js';
import {
  assertInt8Agrees,
  compareProbabilities,
  describeInt8Check,
  INT8_MAX_ACCURACY_DROP,
  INT8_MIN_AGREEMENT,
  type Int8Check,
} from '../../src/export/verify.js';
import { loadMnist } from '../../src/data/load.js';
import { NUM_CLASSES, PIXELS } from '../../src/data/types.js';
import { Predictor } from '../../src/predict/predictor.js';
import { layersModelToOnnx } from '../../src/model/onnx.js';
import { loadRun } from '../../src/model/run.js';
import { quickRunDir } from '../helpers/quick-run.js';
import { exportCli, metadataProps, scaledTestSet } from '../helpers/onnx.js';

/**
 * A run's int8 ONNX copy (src/export/int8.ts), its check (src/export/verify.ts),
 * `mnist-cnn export --int8`, and the file run by the Predictor (Predictor.fromOnnxFile). The
 * quantisation itself is test/model/onnx-quantize.test.ts's.
 */

let work: string;
/** A copy of the quick run with a temperature and a not-a-digit rule in its metadata.json, as `npm start`'s runs have. */
let run: string;

before(async () => {
  await scaledTestSet();
  work = await mkdtemp(join(tmpdir(), 'mnist-cnn-int8-export-'));
  run = join(work, 'run');
  await cp(await quickRunDir(), run, { recursive: true });
  const metaPath = join(run, 'metadata.json');
  const rule = { below: 1.2, digitsRefused: 0.003, nonDigitsRefused: 0.9, digits: 500, nonDigits: 800 };
  await writeFile(
    metaPath,
    JSON.stringify({ ...JSON.parse(await readFile(metaPath, 'utf8')), temperature: 1.5, nonDigitRule: rule }),
  );
});

after(async () => {
  await rm(work, { recursive: true, force: true });
});

test("`export --format onnx --int8` writes <run>/model.int8.onnx, checked on the 10,000 test images, with the float export's metadata_props", async (t) => {
  const lines = await exportCli(t, run, '--format', 'onnx', '--int8');
  assert.match(
    lines[0],
    /^checked on 10,000 test images: (9,9\d\d|10,000) of 10,000 predicted classes equal \(at least 99\.00% wanted\), test accuracy \d+\.\d\d% against TensorFlow\.js's \d+\.\d\d% \(at most 0\.05 points lower allowed\)$/,
  );
  assert.match(lines[1], /^wrote .*model\.int8\.onnx \(0\.4 MB, ONNX opset 13, int8, temperature 1\.5 folded in\)$/);
  const int8 = new Uint8Array(await readFile(join(run, 'model.int8.onnx')));
  const float = await exportRunToOnnx(run, join(work, 'float.onnx'));
  const { quantization, ...props } = metadataProps(int8);
  assert.deepEqual(props, metadataProps(new Uint8Array(await readFile(float.path))));
  assert.ok(
    props.notADigitBelow && props.notADigitRule && props.temperature === '1.5',
    'the not-a-digit rule and the temperature travel',
  );
  assert.match(
    JSON.parse(quantization).calibration,
    /^min-max over the run's 500 validation images \(val-indices\.json\)$/,
  );
  assert.ok(int8.length < float.bytes * 0.3);

  // --out, and nothing but errors with --quiet.
  const out = join(work, 'elsewhere', 'digits.int8.onnx');
  assert.deepEqual(await exportCli(t, run, '--format', 'onnx', '--int8', '--out', out, '--quiet', '--no-verify'), []);
  assert.deepEqual(new Uint8Array(await readFile(out)), int8, 'the same run quantises to the same bytes');
});

test("the int8 copy is calibrated on the run's validation split: other val-indices.json, other ranges; none, refused naming the file and nothing written", async (t) => {
  const loaded = await loadRun(run);
  try {
    const float = layersModelToOnnx(loaded.model);
    const full = await quantizeRunOnnx(float, loaded);
    const indices: number[] = JSON.parse(await readFile(join(run, 'val-indices.json'), 'utf8'));
    const other = join(work, 'other-split');
    await cp(run, other, { recursive: true });
    await rm(join(other, 'model.int8.onnx'), { force: true });
    await writeFile(join(other, 'val-indices.json'), JSON.stringify(indices.slice(0, 3)));
    const otherRun = await loadRun(other);
    const few = await quantizeRunOnnx(float, otherRun).finally(() => otherRun.model.dispose());
    assert.notDeepEqual(few, full);
    assert.match(JSON.parse(metadataProps(few).quantization).calibration, /over the run's 3 validation images/);

    await rm(join(other, 'val-indices.json'));
    await assert.rejects(
      exportCli(t, other, '--format', 'onnx', '--int8'),
      (err: Error) =>
        err.name === 'UserError' &&
        err.message.includes(join(other, 'val-indices.json')) &&
        /calibrated on the run's validation images/.test(err.message),
    );
    assert.deepEqual(
      (await readdir(other)).filter((f) => f.includes('onnx')),
      [],
    );
  } finally {
    loaded.model.dispose();
  }
});

test("the int8 file answers through Predictor.fromOnnxFile with the run's spec, temperature and not-a-digit rule: the float file's answers on 99% of 2,000 test images", async () => {
  const count = 2000;
  const test = (await loadMnist()).test;
  const set = { images: test.images.subarray(0, count * PIXELS), labels: test.labels.subarray(0, count), count };
  const files = [
    (await exportRunToOnnx(run, join(work, 'answers.onnx'))).path,
    (await exportRunToOnnx(run, join(work, 'answers.int8.onnx'), { int8: true })).path,
  ];
  const [float, int8] = await Promise.all(files.map(async (path) => new Uint8Array(await readFile(path))));
  const answers: Float32Array[] = [];
  for (const file of [float, int8]) {
    const predictor = (await Predictor.fromOnnxFile(run, file))!;
    try {
      assert.equal(predictor.runtime, 'onnx');
      assert.equal(predictor.temperature, 1.5);
      assert.equal(predictor.rule.notADigitBelow, 1.2 / 1.5);
      assert.throws(() => predictor.model, /has no TensorFlow\.js model/);
      answers.push(await predictor.probabilities(set));
      await assert.rejects(predictor.probabilities(set, { calibrated: false }), /probabilities are calibrated/);
    } finally {
      await predictor.close();
    }
  }
  const { argmaxAgree } = compareProbabilities(answers[1], answers[0], NUM_CLASSES);
  assert.ok(argmaxAgree >= 0.99 * count, `${argmaxAgree} of ${count}`);
  await assert.rejects(
    Predictor.fromOnnxFile(run, int8, { temperature: 1 }),
    (err: Error) =>
      err.name === 'UserError' && /temperature 1\.5 folded in: it cannot answer at temperature 1/.test(err.message),
  );
});

test('the int8 check: what it reports, and a copy that strays too far is refused', () => {
  const check = (argmaxAgree: number, accuracy: number): Int8Check => ({
    count: 10000,
    maxAbsDiff: 0.02,
    argmaxAgree,
    onnxSeconds: 1,
    tfjsSeconds: 2,
    accuracy,
    referenceAccuracy: 0.99,
  });
  assert.doesNotThrow(() => assertInt8Agrees(check(9990, 0.99 - INT8_MAX_ACCURACY_DROP)));
  assert.doesNotThrow(() => assertInt8Agrees(check(INT8_MIN_AGREEMENT * 10000, 0.995)));
  assert.equal(
    describeInt8Check(check(9990, 0.9897)),
    "checked on 10,000 test images: 9,990 of 10,000 predicted classes equal (at least 99.00% wanted), test accuracy 98.97% against TensorFlow.js's 99.00% (at most 0.05 points lower allowed)",
  );
  for (const [agree, accuracy] of [
    [9899, 0.99],
    [9990, 0.9894],
    [Number.NaN, 0.99],
  ]) {
    assert.throws(
      () => assertInt8Agrees(check(agree, accuracy)),
      (err: Error) =>
        err.name === 'UserError' && /the int8 model strays too far from the TensorFlow\.js model/.test(err.message),
      `${agree}, ${accuracy}`,
    );
  }
});

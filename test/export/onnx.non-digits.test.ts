/**
 * The not-a-digit rule travels with an ONNX export (src/export/onnx.ts): metadata_props
 * `notADigitBelow` and `notADigitRule` (the formula, in words). Applying that formula, as an ONNX
 * user would, to what ONNX Runtime outputs gives the Predictor's null/non-null decisions, on
 * generated non-digits (the test split) and on MNIST test digits. The run is the tests' small
 * model trained with non-digits (test/helpers/non-digit-run.ts: trained once, then cached).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { initBackend } from '../../src/backend/index.js';
import { loadMnist } from '../../src/data/load.js';
import { NUM_CLASSES, PIXELS } from '../../src/data/types.js';
import { exportRunToOnnx } from '../../src/export/onnx.js';
import { createOnnxSession, onnxProbabilities } from '../../src/export/verify.js';
import { NON_DIGIT_CATEGORIES, drawNonDigit, nonDigitRng } from '../../src/image/non-digits.js';
import type { Preprocessed } from '../../src/image/preprocess.js';
import { readMetadata } from '../../src/model/run.js';
import { Predictor } from '../../src/predict/predictor.js';
import { nonDigitRunDir } from '../helpers/non-digit-run.js';
import { metadataProps } from '../helpers/onnx.js';
import { removeTempDirs, tempDir } from '../helpers/run-fixtures.js';

const PER_CATEGORY = 25;
const DIGITS = 2000;

let work: string;
let runDir: string;

before(async () => {
  await initBackend('wasm');
  runDir = await nonDigitRunDir();
  work = await tempDir('mnist-cnn-onnx-rule-');
});

after(removeTempDirs);

/** The rule as metadata_props `notADigitRule` words it for 11 outputs, written from those words alone (not from src/). */
function onnxUserSaysNotADigit(p: ArrayLike<number>, notADigitBelow: number): boolean {
  let best = 0;
  for (let k = 0; k < 10; k++) best = Math.max(best, p[k]);
  return Math.log(Math.max(best, 1e-30)) - Math.log(Math.max(p[10], 1e-30)) < notADigitBelow;
}

test("an export carries the not-a-digit rule; the documented formula on ONNX Runtime's output decides as the Predictor does", async () => {
  const result = await exportRunToOnnx(runDir, join(work, 'model.onnx'));
  const bytes = new Uint8Array(await readFile(result.path));
  const props = metadataProps(bytes);
  const meta = await readMetadata(runDir);
  // The threshold on the output (the temperature is folded into the graph): the fitted one over T.
  const below = Number(props.notADigitBelow);
  assert.ok(
    meta.nonDigitRule && meta.temperature !== undefined && Math.abs(meta.temperature - 1) > 0.05,
    JSON.stringify(meta.nonDigitRule),
  );
  assert.equal(below, meta.nonDigitRule.below / meta.temperature);
  assert.equal(result.notADigitBelow, below);
  assert.match(props.notADigitRule, /s < notADigitBelow/);
  assert.match(props.notADigitRule, /the 11 output probabilities/);
  assert.match(props.notADigitRule, /s = ln\(max\(max_\{k<10\} p_k, 1e-30\)\) - ln\(max\(p_10, 1e-30\)\)/);

  // The Predictor on TensorFlow.js (not the ONNX Runtime it uses by default): two runtimes, one decision.
  const predictor = await Predictor.load(runDir, { runtime: 'tfjs', minConfidence: 0, threads: 2 });
  const session = await createOnnxSession(bytes);
  try {
    assert.equal(predictor.rule.notADigitBelow, below);
    /** Both decisions for preprocessed inputs; the ONNX user's includes the preprocessing's own verdict. */
    const decide = async (inputs: Preprocessed[]) => {
      const answers = await predictor.predict(inputs);
      const images = new Float32Array(inputs.length * PIXELS);
      inputs.forEach((p, i) => images.set(p.input, i * PIXELS));
      const probs = await onnxProbabilities(session, [28, 28, 1], images, inputs.length);
      assert.equal(probs.length, inputs.length * (NUM_CLASSES + 1), 'the export outputs eleven probabilities an image');
      const onnx = inputs.map(
        (p, i) =>
          p.reason !== undefined ||
          onnxUserSaysNotADigit(probs.subarray(i * (NUM_CLASSES + 1), (i + 1) * (NUM_CLASSES + 1)), below),
      );
      return {
        predictor: answers.map((a) => a.digit === null),
        onnx,
        byRule: answers.filter((a) => a.reason?.startsWith('not a digit')).length,
      };
    };

    const pictures: Preprocessed[] = [];
    for (const category of NON_DIGIT_CATEGORIES) {
      for (let n = 0; n < PER_CATEGORY; n++)
        pictures.push(predictor.preprocess(await drawNonDigit(category, 'test', nonDigitRng('test', 1, category, n))));
    }
    const others = await decide(pictures);
    assert.deepEqual(others.onnx, others.predictor);
    // Not vacuous: the model's rule (not the preprocessing) refuses many, and some pass it.
    const passedPreprocessing = pictures.filter((p) => !p.reason).length;
    assert.ok(
      others.byRule >= 0.5 * passedPreprocessing && others.byRule < passedPreprocessing,
      `${others.byRule} of ${passedPreprocessing} refused by the rule`,
    );

    const mnist = (await loadMnist()).test;
    const digits = Array.from({ length: DIGITS }, (_, i) =>
      predictor.preprocessPixels(mnist.images.subarray(i * PIXELS, (i + 1) * PIXELS)),
    );
    const real = await decide(digits);
    assert.deepEqual(real.onnx, real.predictor);
    const refused = real.predictor.filter(Boolean).length;
    // This small model refuses about 2% of test digits (test/predict/non-digit-rule.test.ts): some, not many.
    assert.ok(refused > 0 && refused <= 0.04 * DIGITS, `${refused} of ${DIGITS} MNIST test digits refused`);
  } finally {
    await session.release();
    await predictor.close();
  }
});

test('a run without a not-a-digit rule exports none', async () => {
  const { quickRunDir } = await import('../helpers/quick-run.js');
  const result = await exportRunToOnnx(await quickRunDir(), join(work, 'plain.onnx'));
  const props = Object.keys(metadataProps(new Uint8Array(await readFile(result.path))));
  assert.equal(result.notADigitBelow, undefined);
  assert.ok(
    !props.includes('notADigitBelow') && !props.includes('notADigitRule') && props.includes('preprocessing'),
    props.join(', '),
  );
});

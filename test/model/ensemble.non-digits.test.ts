/**
 * An ensemble of runs trained with non-digits gets a not-a-digit threshold of its own: `mnist-cnn
 * ensemble` refits it on the members' shared validation split after the temperature
 * (evaluate/evaluate.ts `calibrateRun`, predict/non-digit-rule.ts), since the mean of the members'
 * probabilities has a not-a-digit score distribution of its own. Two real quick runs (test/helpers/non-digit-run.ts:
 * the same seed, hence the same validation images; the compact net and LeNet-5, trained once, then cached).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../src/backend/index.js';
import { loadMnist } from '../../src/data/load.js';
import { PIXELS } from '../../src/data/types.js';
import { loadEvalData } from '../../src/evaluate/eval-data.js';
import { NON_DIGIT_CATEGORIES, drawNonDigit, nonDigitRng, type NonDigitCategory } from '../../src/image/non-digits.js';
import type { RawImage } from '../../src/image/preprocess.js';
import { loadModel } from '../../src/model/io.js';
import { readMetadata, type RunMetadata } from '../../src/model/run.js';
import { DIGIT_REFUSAL_BUDGET, notADigitScores } from '../../src/predict/non-digit-rule.js';
import { Predictor } from '../../src/predict/predictor.js';
import { nonDigitRunDir } from '../helpers/non-digit-run.js';

const PER_CATEGORY = 25;
const DIGITS = 2000;

let work: string;
let members: string[];
let pictures: { category: NonDigitCategory; picture: RawImage }[];

before(async () => {
  await initBackend('wasm');
  members = [await nonDigitRunDir(), await nonDigitRunDir({ arch: 'lenet5' })];
  work = await mkdtemp(join(tmpdir(), 'mnist-cnn-ensemble-rule-'));
  pictures = [];
  for (const category of NON_DIGIT_CATEGORIES) {
    for (let n = 0; n < PER_CATEGORY; n++)
      pictures.push({ category, picture: await drawNonDigit(category, 'test', nonDigitRng('test', 1, category, n)) });
  }
});

after(async () => {
  await rm(work, { recursive: true, force: true });
});

/**
 * The share of the non-digits' test split (per category and overall) and of MNIST test digits a
 * run answers null; with `rule`, the run as if its metadata.json had that rule instead.
 */
async function refusals(dir: string, rule?: RunMetadata['nonDigitRule']) {
  const model = await loadModel(dir);
  const metadata = await readMetadata(dir);
  const predictor = await Predictor.fromModel(model, {
    dir,
    metadata: { ...metadata, nonDigitRule: rule ?? metadata.nonDigitRule },
    threads: 2,
    minConfidence: 0,
  });
  try {
    const byCategory: Partial<Record<NonDigitCategory, number>> = {};
    for (const category of NON_DIGIT_CATEGORIES) {
      const answers = await predictor.predict(
        pictures.filter((p) => p.category === category).map((p) => predictor.preprocess(p.picture)),
      );
      byCategory[category] = answers.filter((a) => a.digit === null).length / answers.length;
    }
    const nonDigits = Object.values(byCategory).reduce((a, b) => a + b, 0) / NON_DIGIT_CATEGORIES.length;
    const test = (await loadMnist()).test;
    const answers = await predictor.predict(
      Array.from({ length: DIGITS }, (_, i) =>
        predictor.preprocessPixels(test.images.subarray(i * PIXELS, (i + 1) * PIXELS)),
      ),
    );
    return {
      nonDigits,
      byCategory,
      digits: answers.filter((a) => a.digit === null).length / DIGITS,
      notADigitBelow: predictor.rule.notADigitBelow,
    };
  } finally {
    await predictor.close();
    model.dispose();
  }
}

test("`ensemble` refits the not-a-digit threshold on the shared validation split: it refuses the non-digits' test split and answers real digits", async () => {
  const out = join(work, 'ensemble');
  const made = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'ensemble', ...members, '--out', out],
    { encoding: 'utf8' },
  );
  assert.equal(made.status, 0, made.stderr);
  assert.match(
    made.stdout,
    /not-a-digit threshold \S+, fitted on the same images: refuses 0\.[0-3]% of them and \d+\.\d% of \d+ validation non-digits/,
  );

  const meta = await readMetadata(out);
  const memberRules = await Promise.all(members.map(async (dir) => (await readMetadata(dir)).nonDigitRule!));
  const stand = memberRules.reduce((a, b) => (b.below < a.below ? b : a));
  const rule = meta.nonDigitRule!;
  assert.ok(meta.temperatureFit?.on === 'val', JSON.stringify(meta.temperatureFit));
  assert.equal(rule.digits, 2000);
  assert.ok(rule.digitsRefused <= DIGIT_REFUSAL_BUDGET && rule.nonDigits > 300, JSON.stringify(rule));
  assert.notEqual(rule.below, stand.below);

  // Fitted on the ensemble's own probabilities: on them, the share of the shared validation digits
  // below it is within the budget, and the members' stand-in threshold is far off it (measured
  // when written: 0.05% of them, 0.3% refitted).
  const predictor = await Predictor.load(out, { threads: 2 });
  const val = (await loadEvalData(out, meta, { split: 'val' })).set;
  const probs = await predictor.probabilities(val, { calibrated: false });
  // With TTA the rule applies to the mean over the views, after T; the threshold fitted without
  // TTA stays near its budget there (measured when written: 0.35% of these digits against 0.30%).
  const tta = await predictor.probabilities(val, { tta: true });
  const refusedWithTta = Array.from({ length: val.count }, (_, i) =>
    predictor.interpret(tta.subarray(i * predictor.outputs, (i + 1) * predictor.outputs)),
  ).filter((a) => a.reason?.startsWith('not a digit')).length;
  const outputs = predictor.outputs;
  await predictor.close();
  assert.equal(outputs, 11, 'the members and their mean have the not-a-digit output');
  assert.ok(
    refusedWithTta / val.count <= 2 * DIGIT_REFUSAL_BUDGET,
    `${refusedWithTta} of ${val.count} validation digits refused with TTA`,
  );
  const scores = notADigitScores(probs, outputs);
  const share = (below: number) => scores.filter((s) => s < below).length / val.count;
  assert.ok(
    share(rule.below) <= DIGIT_REFUSAL_BUDGET,
    `${share(rule.below)} of the validation digits under the refitted threshold`,
  );
  assert.ok(share(rule.below + 0.01) > 0.8 * DIGIT_REFUSAL_BUDGET, 'the highest threshold within the budget');
  assert.ok(
    share(stand.below) < 0.5 * DIGIT_REFUSAL_BUDGET,
    `${share(stand.below)} of the validation digits under the stand-in`,
  );

  const refitted = await refusals(out);
  const standIn = await refusals(out, stand);
  const shown = JSON.stringify({ refitted, standIn });
  // The small members' bounds (as test/predict/non-digit-rule.test.ts): most non-digits in every
  // category, few real digits; and more non-digits than the stand-in refuses (measured when
  // written, 100 per category: 90.4% against 76.4%; 0.41% of the 10,000 test digits against 0.01%).
  assert.ok(refitted.nonDigits >= 0.78, shown);
  for (const category of NON_DIGIT_CATEGORIES)
    assert.ok(refitted.byCategory[category]! >= 0.5, `${category}: ${shown}`);
  assert.ok(refitted.digits <= 0.04, shown);
  assert.ok(refitted.nonDigits >= standIn.nonDigits + 0.05, shown);
  assert.ok(refitted.notADigitBelow! > standIn.notADigitBelow!, shown);
});

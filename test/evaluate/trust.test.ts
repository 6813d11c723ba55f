import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { evaluateRun } from '../../src/evaluate/evaluate.js';
import { buildReport } from '../../src/evaluate/report.js';
import { NON_DIGIT_CATEGORIES } from '../../src/image/non-digits.js';
import { readMetadata } from '../../src/model/run.js';
import { DEFAULT_MIN_CONFIDENCE } from '../../src/predict/interpret.js';
import { nonDigitRunDir } from '../helpers/non-digit-run.js';
import { removeTempDirs, startBackend, tempDir } from '../helpers/run-fixtures.js';

before(startBackend);
after(removeTempDirs);

test('evaluate measures trust: risk-coverage, default answers and sets on the digits and their pictures, non-digits per category; the report shows it', async () => {
  const dir = join(await tempDir('mnist-cnn-trust-'), 'run');
  await cp(await nonDigitRunDir(), dir, { recursive: true });
  const meta = await readMetadata(dir);
  assert.ok(meta.predictionSets, 'the run fitted its prediction sets');
  const evaluation = await evaluateRun(dir, { threads: 2, trust: { perCategory: 6 } });
  const trust = evaluation.metrics.trust!;
  assert.equal(trust.minConfidence, DEFAULT_MIN_CONFIDENCE);
  for (const d of [trust.digits, trust.pictured]) {
    assert.equal(d.n, 10000);
    assert.ok(d.riskCoverage.aurc > 0 && d.riskCoverage.aurc < 0.05, `AURC ${d.riskCoverage.aurc}`);
    assert.ok(d.riskCoverage.curve.length > 20 && d.riskCoverage.curve.length < 400);
    // The curve falls, on the whole, from its most confident answers to all of them.
    assert.ok(d.riskCoverage.curve[0].accuracy >= d.riskCoverage.accuracyAll);
    assert.ok(d.atDefault.coverage <= d.riskCoverage.maxCoverage && d.atDefault.accuracy >= d.riskCoverage.accuracyAll);
    assert.ok(Math.abs(d.atDefault.coverage + d.atDefault.refused - 1) < 1e-9);
    assert.ok(d.sets && d.sets.coverage >= 0.97 && d.sets.meanSize >= 1 && d.sets.meanSize < 2, JSON.stringify(d.sets));
    assert.equal(d.refused.length, Math.min(48, Math.round(d.atDefault.refused * d.n)));
  }
  assert.ok(trust.forTargetBoth === undefined || trust.forTargetBoth.accuracy >= trust.accuracyTarget);
  assert.deepEqual(Object.keys(trust.nonDigits!.byCategory), [...NON_DIGIT_CATEGORIES]);
  assert.equal(trust.nonDigits!.split, 'test');
  for (const f of Object.values(trust.nonDigits!.byCategory)) {
    assert.equal(f.n, 6);
    assert.equal(f.answered.length, Math.round((1 - f.refused) * 6));
  }
  const html = await readFile(await buildReport(dir, { evaluation }), 'utf8');
  for (const id of ['not-a-digit', 'prediction-sets', 'risk-coverage'])
    assert.match(html, new RegExp(`<section id="${id}">`), id);
  assert.match(html, /<img alt="Refused non-digits"/);
  assert.match(html, /<img alt="Risk-coverage"/);
  assert.ok(
    html.includes(`threshold ${meta.predictionSets?.unsure.toFixed(4)}`),
    "the unsure group's threshold is shown",
  );

  // On the validation split, the non-digits are the validation draws the threshold was fitted with, not the test split.
  const val = await evaluateRun(dir, {
    split: 'val',
    write: false,
    plots: false,
    threads: 2,
    trust: { perCategory: 3 },
  });
  assert.equal(val.metrics.trust!.nonDigits!.split, 'train');
  assert.equal(val.metrics.trust!.nonDigits!.seed, meta.seed + 1000);
});

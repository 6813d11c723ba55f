import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RECIPE, runBaselines, TRADITIONAL_MODELS } from '../../src/baselines/run.js';
import { readBaselines, testError } from '../../src/baselines/results.js';
import { quickRunDir } from '../helpers/quick-run.js';

test('runBaselines: models on the CNN split, a CNN run beside them, baselines.json with every test prediction', async () => {
  const cnn = await quickRunDir();
  const out = await mkdtemp(join(tmpdir(), 'baselines-run-'));
  try {
    const recipe = {
      ...RECIPE,
      dense: { ...RECIPE.dense, logistic: { epochs: 3, lr: 0.01 } },
      pcaComponents: [20],
      forest: { ...RECIPE.forest, components: 20 },
      svm: { ...RECIPE.svm, components: 20 },
    };
    const lines: string[] = [];
    const report = await runBaselines({
      limit: 1200,
      models: ['logistic', 'knn-pca'],
      cnnRuns: [{ dir: cnn, kind: 'cnn' }],
      recipe,
      outDir: out,
      log: (line) => lines.push(line),
    });
    assert.deepEqual(
      report.models.map((m) => m.id),
      ['logistic', 'knn-pca20', 'cnn'],
    );
    assert.deepEqual(report.data.split, { seed: 1, limit: 1200, trainCount: 1100, valCount: 100, testCount: 10000 });
    for (const m of report.models) {
      assert.equal(m.predictions?.length, 10000, m.id);
      assert.ok(testError(m) < 0.3, `${m.id}: test error ${testError(m)} (chance: 0.9)`);
      assert.ok(m.sizeBytes > 0 && m.trainSeconds >= 0 && m.predictSeconds > 0, m.id);
    }
    assert.equal(report.models[0].paper?.errorPercent, 12);
    assert.equal(report.models[2].run, cnn);
    assert.ok(
      lines.some((line) => line.startsWith('Logistic regression')),
      lines.join('\n'),
    );
    const saved = await readBaselines(out);
    assert.deepEqual(saved, report);
    assert.ok(TRADITIONAL_MODELS.includes('svm-rbf') && TRADITIONAL_MODELS.includes('random-forest'));
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});

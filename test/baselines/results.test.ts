import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  baselinesTableMarkdown,
  disagreements,
  formatSeconds,
  tableRows,
  withoutPredictions,
  type BaselinesReport,
} from '../../src/baselines/results.js';
import { madeUpReport } from '../helpers/baselines-report.js';

const labels = Uint8Array.from({ length: 40 }, (_, i) => i % 10);

test('disagreements: the images only the CNN reads right, and the images only the traditional models read right', () => {
  assert.deepEqual(disagreements(madeUpReport(labels), labels), { cnnOnly: [0, 1, 2, 4], traditionalOnly: [3] });
  // Without predictions (the --json form) there is nothing to compare.
  assert.deepEqual(disagreements(withoutPredictions(madeUpReport(labels)), labels), {
    cnnOnly: [],
    traditionalOnly: [],
  });
});

test("the table: one row per model, our error beside the paper's, subsets marked and explained", () => {
  const report = madeUpReport(labels);
  const { header, rows } = tableRows(report);
  assert.equal(rows.length, 3);
  assert.equal(rows[0][header.indexOf('test error (ours)')], '10.00% (4)');
  assert.match(rows[0][header.indexOf('paper, Fig. 9')], /^12\.00% Linear/);
  assert.equal(rows[2][header.indexOf('paper, Fig. 9')], '—');
  assert.equal(rows[1][header.indexOf('trained on')], '55,000*');
  const markdown = baselinesTableMarkdown(report);
  assert.match(markdown, /\\\* k-NN, L2 on pixels: a made-up subset note/);
  assert.match(markdown, /AMD EPYC test, 2 cores/);
  assert.equal(formatSeconds(245), '4 min 05 s');
});

test('bench/results/baselines.json: the full data, every model measured, and the CNN ahead of every traditional model', () => {
  const report = JSON.parse(readFileSync('bench/results/baselines.json', 'utf8')) as BaselinesReport;
  assert.equal(report.data.split.limit, 0);
  assert.equal(report.data.split.testCount, 10000);
  const cnn = report.models.find((m) => m.kind === 'cnn')!;
  for (const m of report.models.filter((m) => m.kind === 'traditional'))
    assert.ok(m.testErrors > cnn.testErrors, `${m.name}: ${m.testErrors} errors, the CNN ${cnn.testErrors}`);
  // (docs/baselines.md's table is a generated block of it: test/docs/generated.test.ts.)
});

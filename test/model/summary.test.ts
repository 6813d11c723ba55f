import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend } from '../../src/backend/index.js';
import { buildModel, modelSummary } from '../../src/model/architectures.js';
import { modelSummaryRows, summaryCells, summaryTotals } from '../../src/model/summary.js';

before(async () => {
  await initBackend('wasm', { quiet: true });
});

test('multiply-adds worked out by hand for the default network; parameters as Keras counts them', () => {
  const summary = modelSummaryRows(buildModel('default', 1));
  const byClass = (name: string) => summary.rows.filter((r) => r.className === name).map((r) => r.multiplyAdds);
  // conv 1: 28*28 outputs x 32 filters x 3*3*1; conv 2: 14*14 x 64 x 3*3*32.
  assert.deepEqual(byClass('Conv2D'), [28 * 28 * 32 * 9, 14 * 14 * 64 * 9 * 32]);
  assert.deepEqual(byClass('Dense'), [3136 * 128, 128 * 10]);
  assert.deepEqual(byClass('BatchNormalization'), [14 * 14 * 64, 128]);
  assert.deepEqual(byClass('MaxPooling2D'), [0, 0]);
  assert.equal(summary.multiplyAdds, 225_792 + 3_612_672 + 401_408 + 1_280 + 12_544 + 128);
  assert.deepEqual(summary.params, { total: 422_218, trainable: 421_834, nonTrainable: 384 });
  assert.deepEqual(summary.rows[0].outputShape, [null, 28, 28, 32]);
});

test('`train --summary` prints the table the report shows: every cell and every total', () => {
  const model = buildModel('lenet5', 1);
  const text = modelSummary(model);
  const summary = modelSummaryRows(model);
  assert.match(text, /^Model: "lenet5"/);
  for (const row of summaryCells(summary)) {
    const line = text.split('\n').find((l) => l.startsWith(row[0]));
    assert.ok(line, `no line for ${row[0]}`);
    assert.deepEqual(line.split(/\s{2,}/).slice(1), row.slice(1));
  }
  for (const total of summaryTotals(summary)) assert.ok(text.includes(total), total);
  assert.match(text, /Total params: 61706/);
  assert.match(text, /Multiply-adds per image: 416520 \(0\.42 M\)/);
});

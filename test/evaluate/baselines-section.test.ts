import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BASELINES_FILE } from '../../src/baselines/results.js';
import { loadMnist } from '../../src/data/load.js';
import { BASELINE_PLOTS, baselinesChartSpec, baselinesSection } from '../../src/evaluate/baselines-section.js';
import type { PlotFile } from '../../src/evaluate/plots.js';
import { writeJsonAtomic } from '../../src/util/fs.js';
import { madeUpReport } from '../helpers/baselines-report.js';

const inline = async (plot: PlotFile | undefined, alt: string, whenMissing = '') =>
  plot ? `<img alt="${alt}" src="${plot.pngPath}">` : whenMissing;

test('the report section: the table beside the paper, the chart, and the galleries of the digits each side alone reads right', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'baselines-section-'));
  try {
    const labels = (await loadMnist()).test.labels;
    await writeJsonAtomic(join(dir, BASELINES_FILE), madeUpReport(labels));
    const html = await baselinesSection(dir, join(dir, 'plots'), inline);
    assert.match(html, /<td>Logistic regression \(softmax, 784-10\)<\/td><td>0\.04% \(4\)<\/td><td>12\.00% Linear/);
    assert.match(html, /The CNN makes fewer errors than every traditional model: 4\.0x fewer than the best of them/);
    for (const name of Object.values(BASELINE_PLOTS)) {
      assert.ok(existsSync(join(dir, 'plots', `${name}.png`)), name);
      assert.ok(html.includes(join(dir, 'plots', `${name}.png`)), name);
    }
    assert.match(html, /a made-up subset note/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('without baselines.json the section says how to make one; the chart puts the paper beside ours', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'baselines-section-'));
  try {
    assert.match(await baselinesSection(dir, join(dir, 'plots'), inline), /mnist-cnn baselines --run/);
    const spec = baselinesChartSpec(madeUpReport(Uint8Array.from([1, 2, 3, 4, 5])));
    const values = (spec.data as { values: { source: string }[] }).values;
    assert.equal(values.length, 5); // three of ours, two of the paper's (the CNN has none)
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

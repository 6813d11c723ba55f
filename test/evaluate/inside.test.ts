/**
 * Inside the network in the report of a quick run (the default network, one epoch): the model
 * summary, the first convolution's filters, the feature maps of one test digit per class, the
 * embedding map and the saliency of the worst errors, all in one self-contained file.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { cp, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import * as vl from 'vega-lite';
import { loadMnist } from '../../src/data/load.js';
import { buildReport, REPORT_SECTIONS } from '../../src/evaluate/report.js';
import { computeEmbedding, embeddingSpec, firstOfEachClass } from '../../src/evaluate/inside.js';
import { modelSummary } from '../../src/model/architectures.js';
import { Predictor } from '../../src/predict/predictor.js';
import { quickRunDir } from '../helpers/quick-run.js';
import { removeTempDirs, startBackend, tempDir } from '../helpers/run-fixtures.js';

before(startBackend);
after(removeTempDirs);

/** The text of one section of the report. */
function section(html: string, id: string): string {
  const start = html.indexOf(`<section id="${id}">`);
  assert.ok(start >= 0, `no section ${id}`);
  return html.slice(start, html.indexOf('</section>', start));
}

test('the first image of each class, in class order', () => {
  assert.deepEqual(firstOfEachClass(Uint8Array.from([3, 1, 1, 0, 3, 2]), 4), [3, 1, 5, 0]);
  assert.deepEqual(firstOfEachClass(Uint8Array.from([2, 2, 0]), 4), [2, 0], 'absent classes left out');
});

test('the embedding is seeded: the same seed gives the same map, another seed another; predictions come with it', async () => {
  const predictor = await Predictor.load(await quickRunDir());
  try {
    const { test: set } = await loadMnist();
    const run = (seed: number) => computeEmbedding(predictor.model, set, predictor.spec, { seed, sample: 300 });
    const [a, b, c] = [run(1), run(1), run(2)];
    assert.equal(a.points.length, 300);
    assert.equal(a.of, 10000);
    assert.equal(a.dimensions, 128);
    assert.deepEqual(a.points, b.points);
    assert.notDeepEqual(
      a.points.map((p) => p.index),
      c.points.map((p) => p.index),
    );
    // Stratified: every class, in its share.
    const perClass = new Array(10).fill(0);
    for (const p of a.points) perClass[p.label]++;
    assert.ok(
      perClass.every((n) => n >= 20 && n <= 40),
      perClass.join(','),
    );
    assert.ok(a.points.filter((p) => p.label === p.predicted).length > 250, 'the quick run reads most of them right');
    const compiled = vl.compile(embeddingSpec(a, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'])).spec;
    assert.ok(compiled.marks && compiled.marks.length >= 2, 'points and rings');
  } finally {
    await predictor.close();
  }
});

test('the report of a quick run shows the summary, filters, feature maps, embedding map and saliency, in one file under 5 MB', async () => {
  const dir = join(await tempDir(), 'run');
  await cp(await quickRunDir(), dir, { recursive: true });
  const path = await buildReport(dir);
  const html = await readFile(path, 'utf8');
  const size = (await stat(path)).size;
  assert.ok(size < 5 * 1024 * 1024, `report.html is ${size} bytes`);
  for (const id of ['network', 'feature-maps', 'embedding'])
    assert.ok((REPORT_SECTIONS as readonly string[]).includes(id), id);
  assert.doesNotMatch(html, /(src|href)\s*=\s*["']?\s*(https?:)?\/\//i, 'nothing fetched from the network');
  assert.doesNotMatch(html, /<link\b|<script\b|@import|url\(/i, 'no external CSS or JS');
  for (const name of ['filters', 'feature-maps', 'embedding', 'saliency'])
    assert.ok(existsSync(join(dir, 'plots', `${name}.png`)) && existsSync(join(dir, 'plots', `${name}.svg`)), name);

  // The summary: the cells `train --summary` prints, row by row.
  const network = section(html, 'network');
  const predictor = await Predictor.load(dir);
  const text = modelSummary(predictor.model);
  await predictor.close();
  const cells = [...network.matchAll(/<tr>(.*?)<\/tr>/g)].map((row) =>
    [...row[1].matchAll(/<td>(.*?)<\/td>/g)].map((c) => c[1]),
  );
  const rows = cells.filter((row) => row.length === 4);
  assert.equal(rows.length, 12, 'one row per layer');
  for (const row of rows) {
    const line = text.split('\n').find((l) => l.startsWith(row[0]));
    assert.ok(line, `train --summary has no line for ${row[0]}`);
    assert.deepEqual(line.split(/\s{2,}/), row);
  }
  assert.match(network, /Total params: 422218/);
  assert.match(network, /Multiply-adds per image: 4253824 \(4\.25 M\)/);
  // Filters: the 32 of the first convolution.
  const filters = network.slice(network.indexOf('<svg'));
  assert.equal((filters.match(/<image /g) ?? []).length, 32);

  // Feature maps: ten rows (class 0 to 9), each the input and the five views' maps.
  const maps = section(html, 'feature-maps');
  for (let k = 0; k < 10; k++) assert.ok(maps.includes(`>class ${k}<`), `class ${k}`);
  assert.equal((maps.match(/<image /g) ?? []).length, 10 * 6);
  for (const label of ['conv 1', 'pool 1', 'conv 2', 'pool 2', 'dense 1'])
    assert.ok(maps.includes(`>${label}<`), label);

  // Embedding: a PNG, with what was projected, how many and how long it took.
  const embedding = section(html, 'embedding');
  assert.match(embedding, /<img alt="embedding map" [^>]*src="data:image\/png;base64,[A-Za-z0-9+/=]{1000,}"/);
  assert.match(embedding, /the 128 values of <code>activation_Activation2<\/code>/);
  assert.match(embedding, /for 5,000 of the 10,000 images, a sample stratified by class/);
  assert.match(embedding, /Computed in \d+\.\d s \(the layer's values \d+\.\d s, UMAP \d+\.\d s/);
  const misclassified = Number(/ (\d[\d,]*) of these 5,000 are misclassified/.exec(embedding)?.[1].replace(/,/g, ''));
  const metrics = JSON.parse(await readFile(join(dir, 'metrics.json'), 'utf8'));
  assert.ok(
    misclassified > 0 && misclassified <= metrics.errors,
    `${misclassified} misclassified in the sample, ${metrics.errors} in all`,
  );

  // Saliency beside the error gallery: the worst errors, each with two maps.
  const errors = section(html, 'errors');
  assert.ok(errors.indexOf('Saliency of the worst errors') > errors.indexOf('alt="worst errors"'));
  const shown = Math.min(12, metrics.worstErrors.length);
  assert.equal(
    (errors.slice(errors.indexOf('Saliency of the worst errors')).match(/<image /g) ?? []).length,
    3 * shown,
  );
  assert.ok(errors.includes(`#${metrics.worstErrors[0].index}: `));
});

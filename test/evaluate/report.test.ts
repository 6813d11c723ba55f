import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { buildReport, REPORT_SECTIONS } from '../../src/evaluate/report.js';
import { makeRunDir, removeTempDirs, startBackend } from '../helpers/run-fixtures.js';

before(startBackend);

function assertSelfContained(html: string): void {
  assert.doesNotMatch(html, /(src|href)\s*=\s*["']?\s*(https?:)?\/\//i, 'nothing fetched from the network');
  assert.doesNotMatch(html, /<link\b|<script\b|@import|url\(/i, 'no external CSS or JS');
}

after(removeTempDirs);

test('report.html holds every section with its pictures inline, and nothing to fetch', async () => {
  const dir = await makeRunDir();
  // No metrics.json yet: the report evaluates first.
  const path = await buildReport(dir);
  assert.equal(path, join(dir, 'report.html'));
  assert.ok(existsSync(join(dir, 'metrics.json')));
  const html = await readFile(path, 'utf8');
  for (const id of REPORT_SECTIONS.filter((id) => id !== 'finetune'))
    assert.match(html, new RegExp(`<section id="${id}">`), `section ${id}`);
  assert.doesNotMatch(
    html,
    /<section id="finetune">|href="#finetune"/,
    'a run that was not fine-tuned has no Fine-tuning section',
  );
  // A run that cannot say "not a digit" has the sets and risk-coverage sections (report-trust.ts), not that one.
  for (const id of ['prediction-sets', 'risk-coverage'])
    assert.match(html, new RegExp(`<section id="${id}">`), `section ${id}`);
  assert.doesNotMatch(html, /<section id="not-a-digit">/);
  const images = html.match(/<img [^>]*src="data:image\/png;base64,[A-Za-z0-9+/=]{100,}"/g) ?? [];
  assert.equal(images.length, 7, 'curves, confusion, per-class, reliability, two galleries, risk-coverage');
  assertSelfContained(html);
  const metrics = JSON.parse(await readFile(join(dir, 'metrics.json'), 'utf8'));
  // Headline figures come from metrics.json and metadata.json.
  assert.ok(html.includes(`${(metrics.accuracy * 100).toFixed(2)}%`));
  assert.ok(html.includes(`${metrics.errors} of 10000`));
  assert.ok(html.includes('tiny-fixture') && html.includes('7,850') && html.includes('0fa7898d509279e4'));
  assert.ok(html.includes('&#34;valCount&#34;: 500'), 'the full config');
  assert.ok(html.includes('4.22.0'), 'library versions');
});

test('the report rebuilds its pictures from metrics.json when they are gone', async () => {
  const dir = await makeRunDir({ history: false });
  await buildReport(dir);
  const metricsBefore = await readFile(join(dir, 'metrics.json'), 'utf8');
  await rm(join(dir, 'plots'), { recursive: true });
  const html = await readFile(await buildReport(dir), 'utf8');
  assert.equal(await readFile(join(dir, 'metrics.json'), 'utf8'), metricsBefore, 'not evaluated again');
  assert.ok(existsSync(join(dir, 'plots', 'worst-errors.png')));
  assert.ok(html.includes('No learning curves: the run has no history.csv.'));
  assert.equal((html.match(/src="data:image\/png;base64,/g) ?? []).length, 6);
  assertSelfContained(html);
});

/**
 * Rewrites docs/baselines.md's table from bench/results/baselines.json (the `--json` output of a
 * full-data `mnist-cnn baselines`), between its markers. `npm run docs:baselines`; a test fails
 * when the two differ.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { baselinesTableMarkdown, DOCS_TABLE_MARKERS, type BaselinesReport } from '../src/baselines/results.js';

const DOCS = 'docs/baselines.md';
const report = JSON.parse(readFileSync('bench/results/baselines.json', 'utf8')) as BaselinesReport;
const docs = readFileSync(DOCS, 'utf8');
const from = docs.indexOf(DOCS_TABLE_MARKERS.start);
const to = docs.indexOf(DOCS_TABLE_MARKERS.end);
if (from < 0 || to < from) {
  console.error(`${DOCS} has no ${DOCS_TABLE_MARKERS.start} ... ${DOCS_TABLE_MARKERS.end} block`);
  process.exit(2);
}
writeFileSync(DOCS, `${docs.slice(0, from + DOCS_TABLE_MARKERS.start.length)}\n${baselinesTableMarkdown(report)}\n${docs.slice(to)}`);
console.log(`${DOCS}: table rewritten`);

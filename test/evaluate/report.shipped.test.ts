import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildReport } from '../../src/evaluate/report.js';

test('report refuses the model shipped in the package (read-only), saying where its figures are', async () => {
  await assert.rejects(
    buildReport('default'),
    /is the model shipped in the package, read-only: its figures are in release\.json/,
  );
});

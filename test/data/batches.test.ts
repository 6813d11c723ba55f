import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchFiller, identityOrder } from '../../src/data/batches.js';
import { batchPart } from '../../src/backend/replicas.js';
import { NOT_A_DIGIT, PIXELS } from '../../src/data/types.js';

/** n digit images whose pixels all equal their index + 1, labels i % 10; k non-digits whose pixels are 200 + j. */
function sets(n: number, k: number) {
  const digits = { images: new Uint8Array(n * PIXELS), labels: new Uint8Array(n), count: n };
  for (let i = 0; i < n; i++) {
    digits.images.fill(i + 1, i * PIXELS, (i + 1) * PIXELS);
    digits.labels[i] = i % 10;
  }
  const others = new Uint8Array(k * PIXELS);
  for (let j = 0; j < k; j++) others.fill(200 + j, j * PIXELS, (j + 1) * PIXELS);
  return { digits, others };
}

test('non-digit rows are added after the digits, labelled, unchanged, and spread through the batch', () => {
  for (const [n, k] of [
    [64, 16],
    [32, 32],
    [10, 1],
    [7, 3],
  ]) {
    const { digits, others } = sets(n, k);
    const filler = new BatchFiller(n + k);
    assert.equal(filler.fill(digits, identityOrder(n), 0, n), n);
    const picks = Uint32Array.from({ length: k }, (_, j) => k - 1 - j);
    assert.equal(filler.fillNonDigits(others, picks, n), n + k);
    const rows = Array.from({ length: n + k }, (_, r) => ({
      value: Math.round(filler.x[r * PIXELS] * 255),
      label: filler.y[r],
    }));
    // Every row is one whole image (no row was torn by the spreading).
    for (let r = 0; r < n + k; r++)
      assert.ok(filler.x.subarray(r * PIXELS, (r + 1) * PIXELS).every((v) => v === filler.x[r * PIXELS]));
    const nonDigits = rows.filter((r) => r.label === NOT_A_DIGIT);
    assert.deepEqual(nonDigits.map((r) => r.value).sort(), Array.from(picks, (j) => 200 + j).sort());
    const digitRows = rows.filter((r) => r.label !== NOT_A_DIGIT);
    assert.deepEqual(
      digitRows.map((r) => r.value).sort((a, b) => a - b),
      Array.from({ length: n }, (_, i) => i + 1),
    );
    assert.ok(
      digitRows.every((r) => r.label === (r.value - 1) % 10),
      'labels move with their images',
    );
    // Each of two threads' parts gets about half of the non-digits.
    for (const part of [batchPart(n + k, 2, 0), batchPart(n + k, 2, 1)]) {
      const inPart = rows.slice(part.from, part.to).filter((r) => r.label === NOT_A_DIGIT).length;
      assert.ok(Math.abs(inPart - k / 2) <= 1, `${n}+${k}: ${inPart} non-digits in a part`);
    }
  }
});

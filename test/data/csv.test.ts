import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { loadMnist, readDigitCsv, readLabelledDigitCsv, PIXELS, type ImageSet } from '../../src/data/index.js';
import { UserError } from '../../src/util/errors.js';

let work: string;
let mnistTest: ImageSet;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'mnist-csv-'));
  mnistTest = (await loadMnist()).test;
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

const HEADER = Array.from({ length: PIXELS }, (_, i) => `pixel${i}`).join(',');

/** Kaggle's layout, made from the first `count` real MNIST test images. */
function kaggleCsv(count: number, withLabels: boolean, eol = '\n'): string {
  const lines = [withLabels ? `label,${HEADER}` : HEADER];
  for (let i = 0; i < count; i++) {
    const pixels = Array.from(mnistTest.images.subarray(i * PIXELS, (i + 1) * PIXELS)).join(',');
    lines.push(withLabels ? `${mnistTest.labels[i]},${pixels}` : pixels);
  }
  return lines.join(eol) + eol;
}

async function csvFile(name: string, text: string | Uint8Array): Promise<string> {
  const path = join(work, name);
  await writeFile(path, text);
  return path;
}

test('train.csv layout (with labels) reads back the exact images and labels', async () => {
  const path = await csvFile('train.csv', kaggleCsv(3000, true));
  const set = await readDigitCsv(path);
  assert.equal(set.count, 3000);
  assert.deepEqual(set.labels, mnistTest.labels.subarray(0, 3000));
  assert.deepEqual(set.images, mnistTest.images.subarray(0, 3000 * PIXELS));
});

test('test.csv layout (no label column, CRLF, byte-order mark) gives images and no labels', async () => {
  const path = await csvFile('test.csv', '\uFEFF' + kaggleCsv(5, false, '\r\n'));
  const set = await readDigitCsv(path);
  assert.equal(set.count, 5);
  assert.equal(set.labels, undefined);
  assert.deepEqual(set.images, mnistTest.images.subarray(0, 5 * PIXELS));
  await assert.rejects(readLabelledDigitCsv(path), new RegExp(`^UserError: ${path}: has no label column`));
});

test('a gzipped CSV reads the same as the plain one', async () => {
  const path = await csvFile('train.csv.gz', gzipSync(kaggleCsv(4, true)));
  const set = await readLabelledDigitCsv(path);
  assert.deepEqual(set.labels, mnistTest.labels.subarray(0, 4));
  assert.deepEqual(set.images, mnistTest.images.subarray(0, 4 * PIXELS));
});

/** Replace line `lineNumber` (1-based, the header is line 1) of a 20-row labelled CSV. */
function withLine(lineNumber: number, edit: (values: string[]) => string[]): string {
  const lines = kaggleCsv(20, true).split('\n');
  lines[lineNumber - 1] = edit(lines[lineNumber - 1].split(',')).join(',');
  return lines.join('\n');
}

async function assertCsvError(text: string, message: string): Promise<void> {
  const path = await csvFile('train.csv', text);
  await assert.rejects(readDigitCsv(path), (err: unknown) => {
    assert.ok(err instanceof UserError, String(err));
    assert.equal(err.message, `${path} ${message}`);
    assert.equal(err.file, path);
    return true;
  });
}

test('a row with a value missing names the file and line', async () => {
  await assertCsvError(
    withLine(17, (v) => v.slice(0, -1)),
    'line 17: expected 785 values, got 784',
  );
});

test('a pixel outside 0-255 names the line and column', async () => {
  await assertCsvError(
    withLine(5, (v) => v.map((x, i) => (i === 13 ? '300' : x))),
    'line 5: value 300 at column pixel12 is outside 0-255',
  );
});

test('a non-numeric pixel and a negative one are refused', async () => {
  await assertCsvError(
    withLine(3, (v) => v.map((x, i) => (i === 1 ? 'abc' : x))),
    "line 3: value 'abc' at column pixel0 is not a whole number",
  );
  await assertCsvError(
    withLine(3, (v) => v.map((x, i) => (i === 784 ? '-1' : x))),
    "line 3: value '-1' at column pixel783 is not a whole number",
  );
  await assertCsvError(
    withLine(3, (v) => v.map((x, i) => (i === 784 ? '' : x))),
    "line 3: value '' at column pixel783 is not a whole number",
  );
});

test('a label outside 0-9 is refused', async () => {
  await assertCsvError(
    withLine(9, (v) => ['11', ...v.slice(1)]),
    'line 9: label 11 is outside 0-9',
  );
});

test('a bad header is refused', async () => {
  await assertCsvError(
    withLine(1, (v) => v.map((x, i) => (i === 3 ? 'pixel9' : x))),
    "line 1: bad header: column 4 is 'pixel9', expected 'pixel2' (label,pixel0,...,pixel783 or pixel0,...,pixel783)",
  );
  await assertCsvError(
    'label,a,b\n1,2,3\n',
    'line 1: bad header: 3 columns, expected label,pixel0,...,pixel783 or pixel0,...,pixel783',
  );
  await assertCsvError('', 'line 1: the file is empty (expected a header line)');
});

test('a missing CSV is a UserError naming it', async () => {
  const path = join(work, 'nope.csv');
  await assert.rejects(
    readDigitCsv(path),
    (err: unknown) => err instanceof UserError && err.message === `${path}: file not found`,
  );
});

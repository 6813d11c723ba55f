import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeCorrection, CORRECTION_LABELS, isCorrectionFileName } from '../../src/data/correction-files.js';
import { CorrectionLimitError, CorrectionStore, readCorrections } from '../../src/data/corrections.js';
import { loadImageFolder } from '../../src/data/folder.js';
import { encodeGrayPng } from '../../src/data/png-file.js';
import { NOT_A_DIGIT } from '../../src/data/types.js';
import { decodeDigitImage } from '../../src/image/digit-file.js';
import { UserError } from '../../src/util/errors.js';

const made: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mnist-corrections-'));
  made.push(dir);
  return dir;
}
after(async () => {
  for (const dir of made) await rm(dir, { recursive: true, force: true });
});

/** A 28x28 picture of a bar at row `row`: different rows, different pictures. */
function bar(row: number): Uint8Array {
  const pixels = new Uint8Array(784);
  pixels.fill(255, row * 28 + 6, row * 28 + 22);
  return pixels;
}
const drawnPng = (seed: number) => ({
  bytes: encodeGrayPng(new Uint8Array(280 * 280).fill(seed), 280, 280),
  ext: 'png' as const,
});

/** Every file under `dir`, relative, sorted. */
async function files(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

test("a correction is its 28x28 PNG under its label and its drawing under drawn/, both named by the PNG's hash", async () => {
  const dir = await tempDir();
  const store = await CorrectionStore.open(join(dir, 'corrections'));
  const correction = makeCorrection('7', bar(10), drawnPng(1));
  assert.match(correction.name, /^[0-9a-f]{16}$/);
  const saved = await store.add(correction);
  assert.deepEqual(saved, { label: '7', name: correction.name, path: `7/${correction.name}.png`, stored: true });
  assert.deepEqual(await files(store.dir), [`7/${correction.name}.png`, `drawn/7/${correction.name}.png`]);
  assert.deepEqual(await decodeDigitImage(join(store.dir, '7', `${correction.name}.png`)), bar(10));
  assert.equal(store.count, 1);
});

test('the same picture sent twice (a double click) is one file; sent again with another label it moves there', async () => {
  const store = await CorrectionStore.open(await tempDir());
  const seven = makeCorrection('7', bar(5), drawnPng(2));
  const [first, second] = await Promise.all([store.add(seven), store.add(makeCorrection('7', bar(5), drawnPng(2)))]);
  assert.deepEqual([first.stored, second.stored], [true, false]);
  assert.equal(store.count, 1);
  const one = await store.add(makeCorrection('1', bar(5), drawnPng(2)));
  assert.deepEqual([one.stored, one.relabelled], [true, '7']);
  assert.deepEqual(await files(store.dir), [`1/${seven.name}.png`, `drawn/1/${seven.name}.png`]);
  assert.equal(store.count, 1);
  // A store opened afresh counts what the folder holds.
  assert.equal((await CorrectionStore.open(store.dir)).count, 1);
});

test('the store is bounded: corrections, bytes and the size of a drawing; a refusal writes nothing', async () => {
  const store = await CorrectionStore.open(await tempDir(), { maxFiles: 2, maxDrawnBytes: 1000 });
  await store.add(makeCorrection('0', bar(1)));
  await assert.rejects(
    store.add(makeCorrection('0', bar(2), { bytes: new Uint8Array(1001), ext: 'png' })),
    (err) => err instanceof CorrectionLimitError && /1001 bytes, over the 1000/.test(err.message),
  );
  await store.add(makeCorrection('0', bar(2)));
  await assert.rejects(
    store.add(makeCorrection('3', bar(3))),
    (err) => err instanceof CorrectionLimitError && /holds 2 corrections, the most it may \(2\)/.test(err.message),
  );
  assert.equal((await files(store.dir)).length, 2);
  // Moving a picture to another label takes no more room: allowed when full.
  assert.equal((await store.add(makeCorrection('6', bar(2)))).relabelled, '0');
  const small = await CorrectionStore.open(await tempDir(), { maxBytes: 1500 });
  await small.add(makeCorrection('0', bar(1)));
  await assert.rejects(small.add(makeCorrection('0', bar(2))), /would take it over its 1500/);
});

test('nothing is written outside the folder: a class folder that is a symbolic link is refused, labels and names are never taken from outside', async () => {
  const dir = await tempDir();
  const outside = join(dir, 'outside');
  await mkdir(outside);
  const root = join(dir, 'corrections');
  await mkdir(root);
  await symlink(outside, join(root, '4'));
  await assert.rejects(
    CorrectionStore.open(root),
    (err) =>
      err instanceof UserError &&
      /4 is a symbolic link: corrections are only written into real folders inside/.test(err.message),
  );
  await rm(join(root, '4'));
  const store = await CorrectionStore.open(root);
  await symlink(outside, join(root, '4'));
  await assert.rejects(store.add(makeCorrection('4', bar(4))), /is a symbolic link/);
  await mkdir(join(root, 'drawn'));
  await symlink(outside, join(root, 'drawn', '5'));
  await assert.rejects(store.add(makeCorrection('5', bar(5), drawnPng(3))), /is a symbolic link/);
  assert.deepEqual(await readdir(outside), []);
  // Labels are a fixed list; a made-up one never reaches the disk.
  assert.throws(() => makeCorrection('../../etc' as never, bar(1)), /is not a correction label/);
  assert.throws(
    () => makeCorrection('7', bar(1), { bytes: new Uint8Array(3), ext: 'png/../../x' as never }),
    /extension is one of/,
  );
  assert.ok(
    !isCorrectionFileName('../x.png') &&
      !isCorrectionFileName('0123456789abcdef.png.exe') &&
      isCorrectionFileName('0123456789abcdef.png'),
  );
});

test('the store can be a symbolic link to a folder (resolved once, when opened), and is made when missing', async () => {
  const dir = await tempDir();
  await mkdir(join(dir, 'real'));
  await symlink(join(dir, 'real'), join(dir, 'link'));
  const store = await CorrectionStore.open(join(dir, 'link'));
  await store.add(makeCorrection('not-a-digit', bar(9)));
  assert.equal((await readdir(join(dir, 'real', 'not-a-digit'))).length, 1);
  assert.ok(existsSync((await CorrectionStore.open(join(dir, 'new', 'nested'))).dir));
});

test('read back for training: digits 0-9 and not-a-digit (the 11th output), drawn/ left out; `evaluate --data` reads the digits alone', async () => {
  const store = await CorrectionStore.open(await tempDir());
  for (const [k, label] of CORRECTION_LABELS.entries()) await store.add(makeCorrection(label, bar(k + 3), drawnPng(k)));
  await writeFile(join(store.dir, '3', '.0123456789abcdef.png.123.456.tmp'), 'a write cut short');
  const set = await readCorrections(store.dir, decodeDigitImage);
  assert.deepEqual(Array.from(set.labels), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, NOT_A_DIGIT]);
  assert.deepEqual(set.images.subarray(3 * 784, 4 * 784), bar(6));
  assert.match(set.sha256, /^[0-9a-f]{64}$/);
  assert.equal((await readCorrections(store.dir, decodeDigitImage)).sha256, set.sha256);
  await store.add(makeCorrection('2', bar(20)));
  assert.notEqual((await readCorrections(store.dir, decodeDigitImage)).sha256, set.sha256);
  assert.deepEqual(
    Array.from((await loadImageFolder(store.dir, decodeDigitImage)).labels),
    [0, 1, 2, 2, 3, 4, 5, 6, 7, 8, 9],
  );
  assert.equal(
    (await readFile(join(store.dir, 'drawn', '0', `${makeCorrection('0', bar(3)).name}.png`))).length > 1000,
    true,
  );
});

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { NON_DIGIT_CATEGORIES } from '../../../src/image/non-digits.js';
import {
  loadMnist,
  writeIdx,
  applySplitPlan,
  gridLayout,
  pickGridSamples,
  renderSampleGrid,
  PIXELS,
  type DataSummary,
  type Dataset,
} from '../../../src/data/index.js';

let work: string;
let data: Dataset;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'mnist-data-cli-'));
  data = await loadMnist();
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

/** The data command from source (tsx), so these tests need no build. */
function runData(...args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'data', ...args], { encoding: 'utf8' });
}

test('data --json reports source, verified checksums, split counts per class and pixel statistics', () => {
  const result = runData('--json', '--limit', '3000', '--val-count', '600', '--seed', '5');
  assert.equal(result.status, 0, result.stderr);
  const summary = JSON.parse(result.stdout) as DataSummary;
  assert.equal(summary.dataset, 'mnist');
  assert.equal(summary.source.kind, 'package');
  assert.deepEqual(
    summary.files.map((f) => [f.name, f.verified]),
    [
      ['train-images-idx3-ubyte', true],
      ['train-labels-idx1-ubyte', true],
      ['t10k-images-idx3-ubyte', true],
      ['t10k-labels-idx1-ubyte', true],
    ],
  );
  assert.deepEqual(summary.counts, { trainFile: 60000, testFile: 10000 });
  assert.deepEqual(summary.plan, { seed: 5, limit: 3000, valCount: 600 });
  assert.equal(summary.splits.train.count, 2400);
  assert.equal(summary.splits.val.count, 600);
  assert.equal(summary.splits.test.count, 10000);
  assert.equal(
    summary.splits.val.perClass.reduce((a, b) => a + b, 0),
    600,
  );
  assert.deepEqual(summary.splits.test.perClass, [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
  assert.ok(summary.pixels.mean > 0.12 && summary.pixels.mean < 0.14, `mean ${summary.pixels.mean}`);
});

test('data without --json is a table; the default hold-out is one in twelve', () => {
  const result = runData();
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /images {3}60000 in the training file, 10000 in the test file/);
  assert.match(result.stdout, /split \(seed 1, 5000 held out for validation, stratified\)/);
  assert.match(result.stdout, /total +55000 +5000 +10000/);
});

test('data without --json prints a readable table with the default 55000/5000/10000 split', () => {
  const result = runData();
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /^source +package: /m);
  assert.match(
    result.stdout,
    /^t10k-labels-idx1-ubyte +ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2 +yes$/m,
  );
  assert.match(result.stdout, /^total +55000 +5000 +10000$/m);
  assert.match(result.stdout, /^pixels \(train split, 0\.\.1\) +mean 0\.13\d\d +std 0\.30\d\d$/m);
});

test('bad flags are refused by the CLI with a message', () => {
  const badNumber = runData('--limit', 'ten');
  assert.notEqual(badNumber.status, 0);
  assert.match(badNumber.stderr, /'ten' is not a whole number/);
  const badDataset = runData('--dataset', 'cifar');
  assert.notEqual(badDataset.status, 0);
  assert.match(badDataset.stderr, /Allowed choices are mnist, fashion-mnist, idx/);
});

test('data --grid writes a PNG whose cells are the chosen training samples, atomically', async () => {
  const grid = join(work, 'out', 'grid.png');
  const result = runData('--grid', grid, '--limit', '1000', '--val-count', '100', '--seed', '9', '--json');
  assert.equal(result.status, 0, result.stderr);
  assert.equal((JSON.parse(result.stdout) as { grid: string }).grid, grid);
  assert.deepEqual(await readdir(join(work, 'out')), ['grid.png'], 'no temporary file left');

  const train = applySplitPlan(data, { seed: 9, limit: 1000, valCount: 100 }).train;
  const options = { classNames: data.classNames, seed: 9, title: 'mnist train split, seed 9' };
  const layout = gridLayout(options);
  const { data: rgb, info } = await sharp(grid).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  assert.deepEqual([info.width, info.height], [layout.width, layout.height]);
  const rows = pickGridSamples(train.labels, 10, 10, 9);
  for (const [k, j] of [
    [0, 0],
    [3, 7],
    [9, 9],
  ]) {
    const image = train.images.subarray(rows[k][j] * PIXELS, (rows[k][j] + 1) * PIXELS);
    assert.equal(train.labels[rows[k][j]], k, `row ${k} shows class ${k}`);
    for (const [y, x] of [
      [14, 14],
      [10, 20],
      [20, 8],
    ]) {
      const px = (layout.rowTop(k) + y * layout.scale) * info.width + layout.cellLeft(j) + x * layout.scale;
      assert.equal(rgb[px * info.channels], image[y * 28 + x], `row ${k} column ${j} pixel (${x},${y})`);
    }
  }
});

test('the label margin carries drawn text (not just background)', async () => {
  const options = { classNames: data.classNames, perClass: 2 };
  const png = await renderSampleGrid(data.test, options);
  const layout = gridLayout(options);
  const { data: rgb, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  let yellowish = 0;
  for (let y = layout.rowTop(7); y < layout.rowTop(8); y++) {
    for (let x = 0; x < layout.labelWidth; x++) {
      const p = (y * info.width + x) * info.channels;
      if (rgb[p] > 150 && rgb[p + 2] < 120) yellowish++;
    }
  }
  assert.ok(yellowish > 10, `${yellowish} label pixels in row 7`);
});

test('the CLI prints a clear error for a data dir that does not exist', () => {
  const dir = join(work, 'no-such-dir');
  const result = runData('--data-dir', dir);
  assert.equal(result.status, 2);
  assert.equal(result.stderr.trim(), `error: data folder ${dir} does not exist`);
  assert.equal(existsSync(dir), false);
});

test('data --dataset idx --data-dir takes a small generated pair with structural checks only', async () => {
  const dir = await mkdtemp(join(work, 'idx-'));
  const labels = (n: number) => Uint8Array.from({ length: n }, (_, i) => i % 10);
  await writeFile(join(dir, 'train-images-idx3-ubyte'), writeIdx([40, 28, 28], new Uint8Array(40 * PIXELS).fill(51)));
  await writeFile(join(dir, 'train-labels-idx1-ubyte'), writeIdx([40], labels(40)));
  await writeFile(join(dir, 't10k-images-idx3-ubyte'), writeIdx([10, 28, 28], new Uint8Array(10 * PIXELS)));
  await writeFile(join(dir, 't10k-labels-idx1-ubyte'), writeIdx([10], labels(10)));
  const result = runData('--dataset', 'idx', '--data-dir', dir, '--val-count', '10', '--json');
  assert.equal(result.status, 0, result.stderr);
  const summary = JSON.parse(result.stdout) as DataSummary;
  assert.deepEqual(summary.source, { kind: 'data-dir', location: dir });
  assert.ok(summary.files.every((f) => !f.verified));
  assert.deepEqual([summary.splits.train.count, summary.splits.val.count, summary.splits.test.count], [30, 10, 10]);
  assert.deepEqual(summary.splits.val.perClass, new Array(10).fill(1));
  assert.equal(summary.pixels.mean, 0.2);
  assert.equal(summary.pixels.std, 0);
});

test('data non-digits writes the generated non-digits as PNGs, the same bytes for the same seed; a bad split is refused', async () => {
  const [a, b] = [join(work, 'non-digits-a'), join(work, 'non-digits-b')];
  for (const out of [a, b]) {
    const result = runData('non-digits', '--out', out, '--per-category', '1', '--split', 'train', '--seed', '3');
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`wrote ${NON_DIGIT_CATEGORIES.length} pictures`));
  }
  const categories = (await readdir(a)).sort();
  assert.deepEqual(categories, [...NON_DIGIT_CATEGORIES].sort());
  for (const category of categories) {
    const [file] = await readdir(join(a, category));
    const [pa, pb] = await Promise.all(
      [a, b].map((dir) =>
        sharp(join(dir, category, file))
          .raw()
          .toBuffer(),
      ),
    );
    assert.ok(pa.equals(pb), category);
  }
  const bad = runData('non-digits', '--out', join(work, 'x'), '--split', 'val');
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /split/);
});

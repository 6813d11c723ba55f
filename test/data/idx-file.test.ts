import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readIdxImageFile } from '../../src/data/idx-file.js';
import { writeIdx } from '../../src/data/idx.js';
import { UserError } from '../../src/util/errors.js';
import { tempDir } from '../helpers/run-fixtures.js';

test('an IDX images file is read with the labels beside it', async () => {
  const dir = await tempDir('mnist-cnn-idx-');
  try {
    const images = join(dir, 't10k-images-idx3-ubyte');
    await writeFile(images, writeIdx([2, 28, 28], new Uint8Array(2 * 784).fill(7)));
    await writeFile(join(dir, 't10k-labels-idx1-ubyte'), writeIdx([2], Uint8Array.of(3, 9)));
    const read = await readIdxImageFile(images, { requireLabels: true });
    assert.equal(read.count, 2);
    assert.deepEqual(Array.from(read.labels!), [3, 9]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test(
  'a FIFO in the place of the labels file is refused by name instead of hanging',
  { skip: process.platform === 'win32' },
  async () => {
    const dir = await tempDir('mnist-cnn-idx-');
    try {
      const images = join(dir, 't10k-images-idx3-ubyte');
      await writeFile(images, writeIdx([1, 28, 28], new Uint8Array(784)));
      const labels = join(dir, 't10k-labels-idx1-ubyte');
      assert.equal(spawnSync('mkfifo', [labels]).status, 0, 'mkfifo');
      await assert.rejects(
        readIdxImageFile(images, { requireLabels: true }),
        (err: Error) =>
          err instanceof UserError &&
          err.message === `${labels}: is a FIFO, not a regular file, so it is not read as IDX data`,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);

test('a folder in the place of the labels file is refused by name; the images file is checked the same way', async () => {
  const dir = await tempDir('mnist-cnn-idx-');
  try {
    const images = join(dir, 't10k-images-idx3-ubyte');
    await writeFile(images, writeIdx([1, 28, 28], new Uint8Array(784)));
    const labels = join(dir, 't10k-labels-idx1-ubyte');
    await mkdir(labels);
    await assert.rejects(
      readIdxImageFile(images, { requireLabels: true }),
      (err: Error) =>
        err instanceof UserError &&
        err.message === `${labels}: is a folder, not a regular file, so it is not read as IDX data`,
    );
    const folder = join(dir, 'train-images-idx3-ubyte');
    await mkdir(folder);
    await assert.rejects(
      readIdxImageFile(folder),
      (err: Error) =>
        err instanceof UserError &&
        err.message === `${folder}: is a folder, not a regular file, so it is not read as IDX data`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

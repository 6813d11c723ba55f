import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadRun, readMetadata, readValIndices, writeMetadata } from '../../src/model/run.js';
import { makeRunDir, removeTempDirs, startBackend } from '../helpers/run-fixtures.js';

before(startBackend);
after(removeTempDirs);

test('metadata.json records the SHA-256 of weights.bin; loadRun refuses weights changed since', async () => {
  const dir = await makeRunDir({ history: false });
  // A run from before the checksum was recorded loads as it is.
  const old = await readMetadata(dir);
  assert.equal(old.weightsSha256, undefined);
  (await loadRun(dir)).model.dispose();

  await writeMetadata(dir, old);
  const weights = await readFile(join(dir, 'weights.bin'));
  const meta = await readMetadata(dir);
  assert.equal(meta.weightsSha256, createHash('sha256').update(weights).digest('hex'));
  (await loadRun(dir)).model.dispose();

  // A stale checksum in what is handed over is replaced by the one of the file.
  await writeMetadata(dir, { ...meta, weightsSha256: 'f'.repeat(64) });
  assert.equal((await readMetadata(dir)).weightsSha256, meta.weightsSha256);

  weights[0] ^= 1; // still a finite float: only the checksum tells
  await writeFile(join(dir, 'weights.bin'), weights);
  await assert.rejects(
    loadRun(dir),
    new RegExp(`weights\\.bin: its SHA-256 is [0-9a-f]{64}, but metadata\\.json records ${meta.weightsSha256}`),
  );
});

test('readValIndices: the held-out indices, undefined without the file, a DataError naming it when they are not indices into the training set', async () => {
  const dir = await makeRunDir({ history: false });
  assert.equal(await readValIndices(dir, 100), undefined);
  const path = join(dir, 'val-indices.json');
  await writeFile(path, JSON.stringify([3, 0, 99]));
  assert.deepEqual(await readValIndices(dir, 100), [3, 0, 99]);
  for (const [content, problem] of [
    ['[1, 100]', /entry 1 \(100\) is not an index into the 100 training images/],
    ['[1.5]', /entry 0 \(1\.5\)/],
    ['{"a": 1}', /must hold a JSON array/],
    ['[1,', /not valid JSON/],
  ] as const) {
    await writeFile(path, content);
    await assert.rejects(
      readValIndices(dir, 100),
      (err: Error) => err.name === 'DataError' && err.message.includes(path) && problem.test(err.message),
      content,
    );
  }
});

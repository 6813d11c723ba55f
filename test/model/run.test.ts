import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadRun, readMetadata, writeMetadata } from '../../src/model/run.js';
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
  await assert.rejects(loadRun(dir), new RegExp(`weights\\.bin: its SHA-256 is [0-9a-f]{64}, but metadata\\.json records ${meta.weightsSha256}`));
});

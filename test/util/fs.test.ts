import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../../src/util/errors.js';
import { removeStaleTemporaries, writeFileAtomic } from '../../src/util/fs.js';

const work = await mkdtemp(join(tmpdir(), 'mnist-cnn-fs-'));
after(() => rm(work, { recursive: true, force: true }));

/** The id of a process that has ended. */
function deadPid(): number {
  return Number(
    spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout,
  );
}

test('writeFileAtomic writes the whole file and leaves no temporary file behind', async () => {
  const dir = join(work, 'ok');
  await writeFileAtomic(join(dir, 'a.json'), '{"a":1}\n');
  assert.equal(await readFile(join(dir, 'a.json'), 'utf8'), '{"a":1}\n');
  assert.deepEqual(await readdir(dir), ['a.json']);
});

test('a write the system refuses is a UserError naming the file, and leaves no temporary file', async () => {
  const dir = join(work, 'refused');
  await mkdir(join(dir, 'target.bin'), { recursive: true }); // a folder where the file should go
  await assert.rejects(writeFileAtomic(join(dir, 'target.bin'), new Uint8Array(8)), (err: Error) => {
    assert.ok(err instanceof UserError);
    assert.match(err.message, /^cannot write .*target\.bin: .*\(E[A-Z]+, rename\)$/);
    return true;
  });
  assert.deepEqual(await readdir(dir), ['target.bin']);
  const notAFolder = join(dir, 'file');
  await writeFile(notAFolder, 'x');
  await assert.rejects(
    writeFileAtomic(join(notAFolder, 'a.json'), '{}'),
    /^UserError: cannot write .*file\/a\.json: a file is in the way of a folder of the path \(EEXIST, mkdir\)$/,
  );
});

test('removeStaleTemporaries removes the temporary files of processes that died, and keeps those of live ones', async () => {
  const dir = join(work, 'stale');
  await mkdir(dir);
  const dead = `.weights.bin.${deadPid()}.1700000000000.tmp`;
  const mine = `.metrics.json.${process.pid}.1700000000001.tmp`;
  for (const name of [dead, mine, 'weights.bin', '.hidden']) await writeFile(join(dir, name), 'x');
  assert.deepEqual(await removeStaleTemporaries(dir), [dead]);
  assert.deepEqual((await readdir(dir)).sort(), [mine, '.hidden', 'weights.bin'].sort());
  assert.deepEqual(await removeStaleTemporaries(join(dir, 'missing')), []);
});

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../../src/util/errors.js';
import { acquireLock, describeOwner } from '../../src/util/lock.js';

const work = await mkdtemp(join(tmpdir(), 'mnist-cnn-lock-'));
after(() => rm(work, { recursive: true, force: true }));

const inUse = (owner: { pid: number; hostname: string; since: string }) => `in use by ${describeOwner(owner)}`;

function deadPid(): number {
  return Number(
    spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout,
  );
}

test('a lock is held until released: a second taker is refused, naming the holder', async () => {
  const path = join(work, 'a.lock');
  const lock = await acquireLock(path, inUse);
  const owner = JSON.parse(await readFile(path, 'utf8'));
  assert.equal(owner.pid, process.pid);
  assert.equal(owner.hostname, hostname());
  await assert.rejects(acquireLock(path, inUse), (err: Error) => {
    assert.ok(err instanceof UserError);
    assert.match(err.message, new RegExp(`^in use by process ${process.pid} on this machine, since \\d{4}-`));
    return true;
  });
  await lock.release();
  assert.equal(existsSync(path), false);
  const again = await acquireLock(path, inUse);
  await again.release();
});

test('a lock left by a process that died is stale and taken over; one from another machine is not', async () => {
  const path = join(work, 'b.lock');
  await writeFile(path, JSON.stringify({ pid: deadPid(), hostname: hostname(), since: '2026-01-01T00:00:00.000Z' }));
  const lock = await acquireLock(path, inUse);
  assert.equal(JSON.parse(await readFile(path, 'utf8')).pid, process.pid);
  await lock.release();

  await writeFile(
    path,
    JSON.stringify({ pid: deadPid(), hostname: 'some-other-host', since: '2026-01-01T00:00:00.000Z' }),
  );
  await assert.rejects(acquireLock(path, inUse), /in use by process \d+ on some-other-host/);
  await writeFile(path, 'not json');
  await assert.rejects(acquireLock(path, inUse), /b\.lock: is not a lock file of mnist-cnn/);
});

test('release leaves alone a lock that another process has taken since', async () => {
  const path = join(work, 'c.lock');
  const lock = await acquireLock(path, inUse);
  const other = JSON.stringify({ pid: 1, hostname: hostname(), since: '2026-01-01T00:00:00.000Z' });
  await writeFile(path, other);
  await lock.release();
  assert.equal(await readFile(path, 'utf8'), other);
});

import { link, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { UserError } from './errors.js';
import { processIsAlive } from './process.js';

/** Who holds a lock: what the lock file says. */
export interface LockOwner {
  pid: number;
  hostname: string;
  /** When it was taken (ISO 8601). */
  since: string;
}

export interface HeldLock {
  readonly path: string;
  /** Remove the lock file, if it is still this process's. */
  release(): Promise<void>;
}

function parseOwner(text: string): LockOwner | undefined {
  try {
    const owner = JSON.parse(text) as LockOwner;
    if (Number.isSafeInteger(owner.pid) && typeof owner.hostname === 'string' && typeof owner.since === 'string')
      return owner;
  } catch {
    // Not JSON: not a lock file this module wrote.
  }
  return undefined;
}

async function readOwnerText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Create `path` holding `text`, failing with EEXIST when it exists: a hard link of a complete file (so no reader sees half of it), or an exclusive create where links are not supported. */
async function createExclusive(path: string, text: string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, text);
  try {
    await link(tmp, path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS') throw err;
    await writeFile(path, text, { flag: 'wx' });
  } finally {
    await rm(tmp, { force: true });
  }
}

/**
 * Take the lock file `path` for this process: a JSON file with its PID, host name and start
 * time. A lock left by a process that has died on this machine is stale and taken over; one
 * held by a live process (or by a process on another machine, which cannot be checked) is
 * refused with `inUse(owner)` as the message. The lock is advisory: it keeps two commands of
 * this program from working in one folder at once.
 */
export async function acquireLock(path: string, inUse: (owner: LockOwner) => string): Promise<HeldLock> {
  const me: LockOwner = { pid: process.pid, hostname: hostname(), since: new Date().toISOString() };
  const text = JSON.stringify(me) + '\n';
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      await createExclusive(path, text);
      return { path, release: () => releaseLock(path, me) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const found = await readOwnerText(path);
    if (found === undefined) continue; // released meanwhile: try again
    const owner = parseOwner(found);
    if (!owner)
      throw new UserError(`${path}: is not a lock file of mnist-cnn (remove it if nothing uses this folder)`, path);
    const stale = owner.hostname === me.hostname && owner.pid !== process.pid && !processIsAlive(owner.pid);
    if (!stale) throw new UserError(inUse(owner), path);
    // Remove the stale lock only if it is still the one read, so that two processes taking it
    // over at once do not remove each other's fresh lock.
    if ((await readOwnerText(path)) === found) await rm(path, { force: true });
  }
  throw new UserError(`${path}: could not take the lock (other processes keep taking it)`, path);
}

async function releaseLock(path: string, me: LockOwner): Promise<void> {
  const found = await readOwnerText(path);
  const owner = found === undefined ? undefined : parseOwner(found);
  if (owner && owner.pid === me.pid && owner.since === me.since && owner.hostname === me.hostname)
    await rm(path, { force: true });
}

/** "process 1234 on this machine, since 2026-01-02T03:04:05Z" / "process 1234 on host-b, ...". */
export function describeOwner(owner: LockOwner): string {
  const where = owner.hostname === hostname() ? 'on this machine' : `on ${owner.hostname}`;
  return `process ${owner.pid} ${where}, since ${owner.since}`;
}

/** Who holds the lock file `path` now: its owner when that process is alive on this machine, else undefined (no lock, or a stale one). */
export async function liveLockOwner(path: string): Promise<LockOwner | undefined> {
  const found = await readOwnerText(path);
  const owner = found === undefined ? undefined : parseOwner(found);
  return owner && owner.hostname === hostname() && processIsAlive(owner.pid) ? owner : undefined;
}

import { constants, type Stats } from 'node:fs';
import { mkdir, open, readdir, rename, rm, type FileHandle } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { asUserError, UserError } from './errors.js';
import { processIsAlive } from './process.js';

/**
 * Flush a folder's entries (a rename or a new file in it) to the disk. Folders cannot be opened
 * for syncing on every platform (Windows); there the rename is as durable as the system makes it.
 */
export async function syncFolder(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
  } catch {
    return;
  }
  try {
    await handle.sync();
  } catch {
    // EISDIR/EPERM/EINVAL on systems that cannot sync a folder: nothing more to do.
  } finally {
    await handle.close();
  }
}

/** What a path that is not a regular file is, for messages. */
function kindOf(stats: Stats): string {
  if (stats.isDirectory()) return 'a folder';
  if (stats.isFIFO()) return 'a FIFO';
  if (stats.isSocket()) return 'a socket';
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

/**
 * The bytes of `path`, which must be a regular file. It is opened without blocking and checked
 * once open (the open file's own fstat, so nothing can be put in its place between the check and
 * the read): a FIFO, which would block the read for good, a device, a socket or a folder is
 * refused by name and never read. Every failure is a UserError naming `path` and what it was to
 * be read as (`what`: "the weights", "IDX data"): no permission, missing, not a regular file.
 */
export async function readRegularFile(path: string, what: string): Promise<Buffer<ArrayBuffer>> {
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw new UserError(
      `${path}: cannot be read as ${what} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      path,
    );
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile())
      throw new UserError(`${path}: is ${kindOf(stats)}, not a regular file, so it is not read as ${what}`, path);
    return await handle.readFile();
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(
      `${path}: cannot be read as ${what} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      path,
    );
  } finally {
    await handle.close();
  }
}

/** The temporary name writeFileAtomic writes `path` under: `.NAME.PID.MILLISECONDS.tmp` beside it. */
const TEMPORARY = /^\..+\.(\d+)\.\d+\.tmp$/;

/**
 * Write a file under a temporary name in the same folder, flush it to the disk, then rename it
 * into place and flush the folder, so a crash (or a power cut) never leaves half a file under
 * the final name. A system problem (a full disk, no permission) becomes a UserError naming
 * `path`, and the temporary file is removed.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  try {
    await mkdir(dirname(path), { recursive: true });
    const handle = await open(tmp, 'w');
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => {});
    throw asUserError(err, 'write', path);
  }
  await syncFolder(dirname(path));
}

export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(value, null, 2) + '\n');
}

/**
 * Remove the temporary files writeFileAtomic left in `dir` when a process died mid-write
 * (those of processes still running are theirs, and kept). Returns the names removed.
 */
export async function removeStaleTemporaries(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const stale = names.filter((name) => {
    const match = TEMPORARY.exec(name);
    return match !== null && !processIsAlive(Number(match[1]));
  });
  for (const name of stale) await rm(join(dir, name), { force: true });
  return stale;
}

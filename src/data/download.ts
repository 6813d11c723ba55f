import { existsSync } from 'node:fs';
import { mkdir, open, readFile, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DataError, UserError } from '../util/errors.js';
import { writeFileAtomic } from '../util/fs.js';
import { CHECKSUMS, IDX_FILES, type IdxFileName } from './checksums.js';
import { sha256 } from './sha256.js';
import { maybeGunzip } from './idx.js';
import type { DatasetName } from './types.js';

export interface DownloadOptions {
  dataset: DatasetName;
  /** Base URL; `${mirror}/${name}.gz` is fetched, or `${mirror}/${name}` when the .gz is 404. */
  mirror: string;
  /** Folder the four verified files land in (default: see defaultCacheDir). */
  cacheDir?: string;
  /** Attempts per file, counting the first (default 3). */
  tries?: number;
  /** Wait before the first retry; doubles after each (default 500 ms). */
  retryDelayMs?: number;
  /** Told about each download and retry (the CLI prints these on stderr). */
  log?: (message: string) => void;
}

/** `$XDG_CACHE_HOME/mnist-cnn/<dataset>`, or `~/.cache/mnist-cnn/<dataset>`. */
export function defaultCacheDir(dataset: DatasetName): string {
  const root = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(root, 'mnist-cnn', dataset);
}

/** A failure worth another try: a network error, a 5xx, a body cut short. */
class TransientError extends Error {}

/** The server has no such file under this name. */
class NotFoundError extends Error {}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

/** Total length the server promises for the whole file, from Content-Range or Content-Length. */
function promisedLength(response: Response, offset: number): number | undefined {
  const range = response.headers.get('content-range');
  const total = range?.match(/\/(\d+)\s*$/);
  if (total) return Number(total[1]);
  const length = response.headers.get('content-length');
  return length === null ? undefined : offset + Number(length);
}

/**
 * Fetch `url` into `partPath`, continuing from the bytes already there with a Range request.
 * A server that ignores Range (200) gets the file from the start. Throws TransientError when
 * the body stops short, so the caller can retry and resume.
 */
async function fetchToPart(url: string, partPath: string): Promise<void> {
  let offset = await sizeOf(partPath);
  let response: Response;
  try {
    response = await fetch(url, { headers: offset > 0 ? { Range: `bytes=${offset}-` } : {} });
  } catch (err) {
    const cause = (err as Error).cause as Error | undefined;
    throw new TransientError(`${url}: ${cause?.message ?? (err as Error).message}`);
  }
  if (response.status === 404) throw new NotFoundError(url);
  if (response.status === 416 && offset > 0) {
    await response.body?.cancel();
    // A run that died between the last byte and the rename left a whole file: verify it.
    if (promisedLength(response, 0) === offset) return;
    await rm(partPath, { force: true });
    throw new TransientError(`${url}: range not satisfiable, restarting`);
  }
  if (response.status !== 200 && response.status !== 206) {
    await response.body?.cancel();
    const error = `${url}: HTTP ${response.status} ${response.statusText}`;
    if (response.status >= 500 || response.status === 429) throw new TransientError(error);
    throw new UserError(`download failed: ${error}`);
  }
  if (response.status === 200) offset = 0;
  const start = response.headers.get('content-range')?.match(/^bytes (\d+)-/);
  if (response.status === 206 && Number(start?.[1]) !== offset) {
    await response.body?.cancel();
    await rm(partPath, { force: true });
    throw new TransientError(
      `${url}: asked for bytes from ${offset}, got ${response.headers.get('content-range')}; restarting`,
    );
  }
  const expected = promisedLength(response, offset);
  const file = await open(partPath, offset === 0 ? 'w' : 'a');
  let received = offset;
  try {
    if (!response.body) throw new TransientError(`${url}: empty response`);
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      await file.write(chunk);
      received += chunk.length;
    }
  } catch (err) {
    if (err instanceof TransientError) throw err;
    throw new TransientError(`${url}: connection lost after ${received} bytes (${(err as Error).message})`);
  } finally {
    await file.close();
  }
  if (expected !== undefined && received < expected) {
    throw new TransientError(`${url}: got ${received} of ${expected} bytes`);
  }
}

type Settings = Required<Omit<DownloadOptions, 'log'>> & Pick<DownloadOptions, 'log'>;

/**
 * Download one file with bounded retries, trying `<name>.gz` first and `<name>` when the
 * mirror has no .gz (a 404 is an answer, not a failed try). Returns the decompressed,
 * verified bytes; never writes the final name.
 */
async function downloadVerified(name: IdxFileName, settings: Settings): Promise<Uint8Array> {
  const expected = CHECKSUMS[settings.dataset as 'mnist' | 'fashion-mnist'][name];
  const base = settings.mirror.replace(/\/+$/, '');
  const variants = [`${name}.gz`, name];
  let failures = 0;
  let lastProblem = '';
  while (failures < settings.tries) {
    const url = `${base}/${variants[0]}`;
    const partPath = join(settings.cacheDir, `.${variants[0]}.part`);
    try {
      settings.log?.(`downloading ${url}${failures > 0 ? ` (try ${failures + 1} of ${settings.tries})` : ''}`);
      await fetchToPart(url, partPath);
      const bytes = await verifyPart(partPath, name, expected);
      if (bytes) return bytes;
      lastProblem = `SHA-256 of the downloaded bytes does not match the original ${settings.dataset} file (${expected})`;
    } catch (err) {
      if (err instanceof NotFoundError) {
        variants.shift();
        if (variants.length > 0) continue;
        throw new DataError(name, `not found on the mirror (${base}/${name}.gz and ${base}/${name} are both 404)`);
      }
      if (!(err instanceof TransientError)) throw err;
      lastProblem = err.message;
    }
    failures++;
    settings.log?.(`  ${lastProblem}`);
    if (failures < settings.tries) await sleep(settings.retryDelayMs * 2 ** (failures - 1));
  }
  throw new DataError(name, `download from ${base} failed after ${settings.tries} tries; last problem: ${lastProblem}`);
}

/**
 * Decompress and check a finished part file. A part that fails is deleted, so the next try
 * starts clean instead of resuming on top of bad bytes.
 */
async function verifyPart(partPath: string, name: IdxFileName, expected: string): Promise<Uint8Array | undefined> {
  const raw = new Uint8Array(await readFile(partPath));
  let bytes: Uint8Array | undefined;
  try {
    bytes = maybeGunzip(raw, name);
  } catch {
    bytes = undefined;
  }
  if (!bytes || sha256(bytes) !== expected) {
    await rm(partPath, { force: true });
    return undefined;
  }
  return bytes;
}

async function isCachedAndVerified(path: string, expected: string): Promise<boolean> {
  if (!existsSync(path)) return false;
  return sha256(new Uint8Array(await readFile(path))) === expected;
}

/**
 * Download the four IDX files of `dataset` from a mirror into a cache folder and return that
 * folder. Each file is fetched as `.gz` (falling back to the raw name), resumed with a Range
 * request after a cut, retried with backoff (bounded), checked against the original SHA-256
 * after decompression, and only then renamed into place, decompressed. Files already cached
 * and verified are not fetched again.
 */
export async function downloadDataset(options: DownloadOptions): Promise<string> {
  if (options.dataset === 'idx') {
    throw new UserError('--dataset idx has no known checksums to verify a download against: pass --data-dir DIR');
  }
  const cacheDir = options.cacheDir ?? defaultCacheDir(options.dataset);
  const settings = { tries: 3, retryDelayMs: 500, ...options, cacheDir };
  await mkdir(cacheDir, { recursive: true });
  for (const name of IDX_FILES) {
    const path = join(cacheDir, name);
    const expected = CHECKSUMS[options.dataset][name];
    if (await isCachedAndVerified(path, expected)) continue;
    const bytes = await downloadVerified(name, settings);
    await writeFileAtomic(path, bytes);
    await Promise.all([`${name}.gz`, name].map((variant) => rm(join(cacheDir, `.${variant}.part`), { force: true })));
  }
  return cacheDir;
}

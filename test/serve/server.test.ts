/**
 * Starting and stopping: every way of failing to start is one UserError naming the thing
 * (the CLI prints it as one line and exits 2), and stopping is bounded by the drain timeout.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { networkInterfaces } from 'node:os';
import sharp from 'sharp';
import { loadMnist, PIXELS } from '../../src/data/index.js';
import { checkServeOptions, startServer, type RunningServer, type ServeOptions } from '../../src/serve/server.js';
import { UserError } from '../../src/util/errors.js';
import { quickRunDir } from '../helpers/quick-run.js';
import { connect, head } from './fixtures/http.js';

let runDir: string;
before(async () => {
  runDir = await quickRunDir();
});

async function startFailure(options: ServeOptions): Promise<UserError> {
  try {
    const server = await startServer({ runDir, ...options });
    await server.close();
  } catch (err) {
    assert.ok(err instanceof UserError, `${(err as Error).name}: ${(err as Error).message}`);
    assert.doesNotMatch(err.message, /\n/, 'one line');
    return err;
  }
  assert.fail(`started with ${JSON.stringify(options)}`);
}

test('flags out of range are refused before anything loads, naming the flag', () => {
  const refused: [ServeOptions, RegExp][] = [
    [{ port: 70000 }, /^--port 70000: the port must be a whole number from 0 to 65535$/],
    [{ port: -1 }, /^--port -1/],
    [{ bodyLimit: 0 }, /^--body-limit 0: the body limit in bytes must be a whole number from 1 to/],
    [{ maxPixels: 0 }, /^--max-pixels 0/],
    [{ maxConnections: 0 }, /^--max-connections 0/],
    [{ limits: { maxInFlight: 0 } }, /^--max-in-flight 0/],
    [{ limits: { requestTimeoutMs: 0 } }, /^--request-timeout 0: the request timeout must be from 1 to 3600 seconds$/],
    [{ drainTimeoutMs: -1000 }, /^--drain-timeout -1/],
    [{ rateLimit: 0 }, /^--rate-limit 0/],
    [{ corsOrigin: 'example.com' }, /^--cors "example\.com" is not an origin/],
    [{ corsOrigin: 'https://example.com/path' }, /is not an origin/],
    [{ host: 'a host' }, /^--host "a host" is not a host name or address$/],
    [{ maxBatch: 0 }, /^--max-batch 0: the largest merged model call \(images\) must be a whole number from 1 to 256$/],
    [{ maxBatch: 1.5 }, /^--max-batch 1\.5/],
    [{ batchWindowMs: -1 }, /^--batch-window -1: the micro-batching window must be from 0 to 1000 ms$/],
    [{ batchWindowMs: Number.NaN }, /^--batch-window NaN/],
  ];
  for (const [options, message] of refused)
    assert.throws(
      () => checkServeOptions(options),
      (err: Error) => err instanceof UserError && message.test(err.message),
      JSON.stringify(options),
    );
  for (const fine of [
    { port: 0, bodyLimit: 1, corsOrigin: 'https://example.com:8443' },
    { corsOrigin: '*', host: '::1' },
    { batchWindowMs: null, maxBatch: 256 },
    { batchWindowMs: 0 },
  ])
    checkServeOptions(fine);
});

test('a port in use, an address not of this machine and an unknown host are one line each, naming the address', async () => {
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  const port = (taken.address() as { port: number }).port;
  try {
    assert.equal(
      (await startFailure({ port })).message,
      `cannot listen on 127.0.0.1:${port}: the port is in use (another server?); choose another with --port`,
    );
  } finally {
    taken.close();
  }
  // 192.0.2.1 is TEST-NET-1 (RFC 5737): never an address of this machine.
  const local = Object.values(networkInterfaces())
    .flat()
    .some((i) => i?.address === '192.0.2.1');
  if (!local)
    assert.equal(
      (await startFailure({ host: '192.0.2.1', port: 0 })).message,
      'cannot listen on 192.0.2.1:0: 192.0.2.1 is not an address of this machine (--host)',
    );
  assert.match(
    (await startFailure({ host: 'no-such-host.invalid', port: 0 })).message,
    /^cannot listen on no-such-host\.invalid:0: no such host no-such-host\.invalid \(--host\)$/,
  );
});

test('stopping lets in-flight requests finish, but for the drain timeout at most: a request that never ends does not hold the process', async () => {
  const server = await startServer({ runDir, port: 0, drainTimeoutMs: 500 });
  // A request whose body never arrives: in flight until its connection is closed under it.
  const stuck = await connect(server.url);
  stuck.write(
    head('POST', '/v1/predict', { 'Content-Type': 'application/json', 'Content-Length': 10_000 }) + '{"pixels": [',
  );
  await new Promise((r) => setTimeout(r, 100));
  await server.close();
  const answer = await stuck.closed;
  assert.notEqual(answer.status, 200);
});

test('micro-batching: concurrent requests merged into few model calls get exactly the answers they get one by one', async () => {
  const data = await loadMnist();
  const png = (i: number) =>
    sharp(Buffer.from(data.test.images.subarray(i * PIXELS, (i + 1) * PIXELS)), {
      raw: { width: 28, height: 28, channels: 1 },
    })
      .png()
      .toBuffer();
  const requests = await Promise.all(
    Array.from({ length: 48 }, async (_, i) =>
      i % 3 === 0
        ? {
            body: JSON.stringify({ pixels: Array.from(data.test.images.subarray(i * PIXELS, (i + 1) * PIXELS)) }),
            type: 'application/json',
          }
        : { body: new Uint8Array(await png(i)), type: 'image/png' },
    ),
  );
  const answers = async (server: RunningServer) => {
    const bodies = await Promise.all(
      requests.map(async ({ body, type }) =>
        (await fetch(`${server.url}/v1/predict`, { method: 'POST', body, headers: { 'content-type': type } })).text(),
      ),
    );
    return { bodies, calls: { ...server.predictor.calls } };
  };
  // A wide window, so that the concurrent requests surely meet in it.
  const batching = await startServer({ runDir, port: 0, batchWindowMs: 50, maxBatch: 16 });
  const alone = await startServer({ runDir, port: 0, batchWindowMs: null });
  try {
    const merged = await answers(batching);
    const single = await answers(alone);
    assert.deepEqual(merged.bodies, single.bodies);
    for (const body of merged.bodies) assert.ok('probabilities' in JSON.parse(body), body);
    // Warm-up call + one call per request without batching; far fewer, of at most 16 images, with it.
    assert.equal(single.calls.count, 1 + requests.length);
    assert.ok(
      merged.calls.count - 1 <= requests.length / 2,
      `${merged.calls.count - 1} model calls for ${requests.length} requests`,
    );
    assert.ok(merged.calls.count - 1 >= requests.length / 16);
    assert.equal(merged.calls.images, 1 + requests.length);
  } finally {
    await batching.close();
    await alone.close();
  }
});

test('stopping with a drain delay: /readyz answers 503 "draining" and predictions are still answered, then the port closes', async () => {
  const server = await startServer({ runDir, port: 0, drainDelayMs: 1_500 });
  const blank = JSON.stringify({ pixels: new Array(PIXELS).fill(0) });
  const predict = () =>
    fetch(`${server.url}/v1/predict`, { method: 'POST', body: blank, headers: { 'content-type': 'application/json' } });
  assert.equal((await fetch(`${server.url}/readyz`)).status, 200);
  const closing = server.close();
  const readyz = await fetch(`${server.url}/readyz`);
  assert.equal(readyz.status, 503);
  assert.equal(readyz.headers.get('retry-after'), '1');
  assert.deepEqual(await readyz.json(), { status: 'draining' });
  assert.equal((await fetch(`${server.url}/healthz`)).status, 200, 'alive while draining');
  const answered = await predict();
  assert.equal(answered.status, 200, 'still answered during the delay');
  assert.equal(answered.headers.get('connection'), 'close');
  await closing;
  await assert.rejects(predict(), 'the port is closed once the delay is over');
});

// Scale-out behind HAProxy, on this machine: three real `mnist-cnn serve` processes (the built
// CLI: `npm run build` first, as `npm test` does) behind HAProxy running deploy/haproxy/haproxy.cfg
// (test/helpers/haproxy.ts: only its ports and server lines are replaced). The load spreads over
// every server; a server stopped with SIGTERM under load loses no request (HAProxy retries it on
// another); a server whose /readyz does not answer 200 gets no request. Counts are fixed and every
// wait has a deadline; timings are the benchmark's business (`npm run bench -- --only scale`).
//
// Needs the `haproxy` binary (.ci/run installs Debian's package): without it the tests are
// skipped, unless CI is set, where they fail.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import sharp from 'sharp';
import {
  findHaproxy,
  HAPROXY_EXAMPLE,
  haproxySkipReason,
  startHaproxy,
  type RunningHaproxy,
} from '../helpers/haproxy.js';
import { quickRunDir } from '../helpers/quick-run.js';
import { startServeProcess, type ServeProcess } from '../helpers/serve-process.js';

const skip = haproxySkipReason();

/** A 28x28 PNG of a stroke (a 1): what a client posts to /v1/predict. */
async function digitPng(): Promise<Uint8Array<ArrayBuffer>> {
  const pixels = new Uint8Array(28 * 28);
  for (let y = 5; y < 23; y++) for (let x = 13; x < 16; x++) pixels[y * 28 + x] = 255;
  return Uint8Array.from(
    await sharp(Buffer.from(pixels), { raw: { width: 28, height: 28, channels: 1 } })
      .png()
      .toBuffer(),
  );
}

/**
 * POST `total` predictions to `url` from `clients` concurrent clients (each sends its next request
 * when the last one is answered); every answer's status, or the error's text when there was none.
 * `onAnswer` hears the count of answers so far.
 */
async function load(
  url: string,
  png: Uint8Array<ArrayBuffer>,
  total: number,
  clients: number,
  onAnswer?: (answered: number) => void,
): Promise<(number | string)[]> {
  const results: (number | string)[] = [];
  let sent = 0;
  const client = async () => {
    while (sent < total) {
      sent++;
      let result: number | string;
      try {
        const response = await fetch(`${url}/v1/predict`, {
          method: 'POST',
          body: png,
          headers: { 'content-type': 'image/png' },
          signal: AbortSignal.timeout(30_000),
        });
        const text = await response.text();
        result =
          response.status === 200 && text.includes('"digit"')
            ? 200
            : `${response.status} ${text.replace(/\s+/g, ' ').slice(0, 200)}`;
      } catch (error) {
        result = `no answer: ${String(error)}${error instanceof Error && error.cause ? ` (${String(error.cause)})` : ''}`;
      }
      results.push(result);
      onAnswer?.(results.length);
    }
  };
  await Promise.all(Array.from({ length: clients }, client));
  return results;
}

/** The answers that were not 200, counted by what they were. */
function failures(results: (number | string)[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const result of results) if (result !== 200) counts[String(result)] = (counts[String(result)] ?? 0) + 1;
  return counts;
}

/** Settles with `promise`, or rejects once `ms` have passed. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

test('deploy/haproxy/haproxy.cfg is a valid HAProxy configuration as shipped', { skip }, () => {
  const binary = findHaproxy();
  assert.ok(binary, 'haproxy is not installed, and CI is set (.ci/run installs it)');
  const check = spawnSync(binary, ['-c', '-f', HAPROXY_EXAMPLE], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(check.status, 0, `haproxy -c -f ${HAPROXY_EXAMPLE}:\n${check.stdout}${check.stderr}`);
});

describe('three mnist-cnn serve processes behind HAProxy', { skip }, () => {
  const backends: ServeProcess[] = [];
  const proxies: RunningHaproxy[] = [];
  const standIns: Server[] = [];
  let png: Uint8Array<ArrayBuffer>;
  const names = ['s1', 's2', 's3'];
  const serverList = () => backends.map((backend, i) => ({ name: names[i], port: backend.port }));

  before(
    async () => {
      png = await digitPng();
      const runDir = await quickRunDir();
      // One at a time: three model loads at once on a busy 2-core machine only slow each other.
      for (let i = 0; i < names.length; i++) backends.push(await startServeProcess(runDir, { timeoutMs: 120_000 }));
    },
    { timeout: 600_000 },
  );

  after(async () => {
    await Promise.allSettled(proxies.map((proxy) => proxy.stop()));
    await Promise.allSettled(backends.map((backend) => backend.stop(5_000)));
    await Promise.allSettled(standIns.map((server) => new Promise((resolve) => server.close(resolve))));
  });

  async function haproxyFor(
    servers: { name: string; port: number }[],
    expect?: Record<string, 'UP' | 'DOWN'>,
  ): Promise<RunningHaproxy> {
    const proxy = await startHaproxy(servers, { expect, timeoutMs: 60_000 });
    proxies.push(proxy);
    return proxy;
  }

  test(
    '300 requests through HAProxy all answer 200, and every server answers some',
    { timeout: 180_000 },
    async (t) => {
      const proxy = await haproxyFor(serverList());
      try {
        const results = await load(proxy.url, png, 300, 4);
        assert.deepEqual(failures(results), {}, 'every request answered 200');
        assert.equal(results.length, 300);
        const servers = await proxy.servers();
        t.diagnostic(
          `answers per server: ${servers.map((server) => `${server.name} ${server.answered2xx}`).join(', ')}`,
        );
        for (const server of servers)
          assert.ok(server.answered2xx > 0, `${server.name} answered no request: ${JSON.stringify(servers)}`);
        assert.equal(
          servers.reduce((sum, server) => sum + server.answered2xx, 0),
          300,
          'the servers answered the 300 requests between them, once each',
        );
      } finally {
        await proxy.stop();
      }
    },
  );

  test('a server whose /readyz does not answer 200 gets no request', { timeout: 180_000 }, async (t) => {
    // A stand-in for a server that is not ready (or draining): /readyz answers 503, as ours does
    // while draining, and anything else is counted (and refused, so that a request sent to it
    // would show up as a retry too). This checks HAProxy's health-check configuration, not our
    // server: our server's own /readyz is tested in test/serve/.
    let checks = 0;
    const requests: string[] = [];
    const standIn = createServer((request, reply) => {
      if (request.url === '/readyz') checks++;
      else requests.push(`${request.method} ${request.url}`);
      request.resume();
      reply.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' }).end('{"status":"draining"}');
    });
    standIns.push(standIn);
    await new Promise<void>((resolve) => standIn.listen(0, '127.0.0.1', resolve));
    const address = standIn.address();
    assert.ok(address && typeof address === 'object');

    const servers = [...serverList(), { name: 'notready', port: address.port }];
    // HAProxy counts a server as up until its first check: wait for the stand-in to be DOWN.
    const proxy = await haproxyFor(servers, { s1: 'UP', s2: 'UP', s3: 'UP', notready: 'DOWN' });
    try {
      const before = requests.length;
      const results = await load(proxy.url, png, 200, 4);
      assert.deepEqual(failures(results), {}, 'every request answered 200');
      assert.deepEqual(requests.slice(before), [], 'the server that is not ready got requests');
      const stats = await proxy.servers();
      const notReady = stats.find((server) => server.name === 'notready');
      assert.equal(notReady?.status, 'DOWN');
      assert.equal(notReady?.checkStatus, 'L7STS', 'its health check failed on the status (503)');
      assert.ok(checks > 0, 'HAProxy checked the stand-in');
      t.diagnostic(
        `stand-in: ${checks} health checks, ${requests.length} other requests; answers per server: ${stats.map((server) => `${server.name} ${server.answered2xx}`).join(', ')}`,
      );
    } finally {
      await proxy.stop();
    }
  });

  // Last: it stops one of the three servers.
  test('SIGTERM to a server under load: no request is lost', { timeout: 180_000 }, async (t) => {
    const proxy = await haproxyFor(serverList());
    const victim = backends[2];
    try {
      let signalled = false;
      const results = await load(proxy.url, png, 600, 8, (answered) => {
        // A third of the way through: requests are in flight to every server.
        if (answered === 200 && !signalled) {
          signalled = true;
          victim.signal('SIGTERM');
        }
      });
      assert.ok(signalled, 'the server was signalled');
      // On failure, HAProxy's log lines of the requests that did not end in a 200 (with their
      // retries and termination state) say what happened.
      const unanswered = () =>
        proxy
          .log()
          .split('\n')
          .filter((line) => line.includes('/v1/predict') && !/ 200 \d+ /.test(line))
          .slice(-20)
          .join('\n');
      assert.deepEqual(
        failures(results),
        {},
        `every request answered 200 (none lost); HAProxy's log of the others:\n${unanswered()}`,
      );
      assert.equal(results.length, 600);

      const end = await within(victim.exited, 30_000, 'the signalled server exiting');
      assert.deepEqual(end, { code: 0, signal: null }, `the signalled server drains and exits 0:\n${victim.output()}`);
      const stats = await proxy.waitForStates({ s1: 'UP', s2: 'UP', s3: 'DOWN' }, 30_000);
      const s3 = stats.find((server) => server.name === 's3');
      assert.ok(s3 && s3.answered2xx > 0, `s3 had answered requests before its SIGTERM: ${JSON.stringify(stats)}`);
      t.diagnostic(
        `per server (answered 2xx / retries / redispatches): ${stats.map((server) => `${server.name} ${server.answered2xx}/${server.retries}/${server.redispatches}`).join(', ')}`,
      );
    } finally {
      await proxy.stop();
    }
  });
});

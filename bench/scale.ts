/**
 * Scale-out through HAProxy, for the benchmark only (tests never assert timings): 1, 2 and 3 real
 * `mnist-cnn serve` processes behind HAProxy running deploy/haproxy/haproxy.cfg (health checks on
 * /readyz, retries), and autocannon in this process sending a fixed number of POST /v1/predict of
 * a 28x28 PNG (MNIST's first test digit) through it, 16 connections; also straight to one server,
 * without HAProxy, to show what the proxy costs. Five rounds; each set-up's median is reported.
 *
 * Everything runs on this one machine: the servers, HAProxy and autocannon share its cores, so the
 * figures show how far more server processes help on it, not how a fleet of machines scales. A
 * server computes on one core: on a 2-core machine a second server can nearly double the rate
 * only while HAProxy and autocannon leave it room, and a third has no core of its own.
 */
import { cpus, loadavg } from 'node:os';
import autocannon from 'autocannon';
import sharp from 'sharp';
import type { Dataset } from '../src/data/types.js';
import { findHaproxy, startHaproxy, type RunningHaproxy } from '../test/helpers/haproxy.js';
import { startServeProcess, type ServeProcess } from '../test/helpers/serve-process.js';

const REQUESTS = 2000;
const CONNECTIONS = 16;
const WARM_UP = 300;
const ROUNDS = 5;
const COUNTS = [1, 2, 3] as const;

interface Load {
  requests: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Failed connections, timeouts and non-2xx answers. */
  errors: number;
}

const log = (message: string) => process.stderr.write(`bench: ${message}\n`);
const loadAverage = () => loadavg().map((x) => +x.toFixed(2));

/** `amount` requests of the PNG to `url`, CONNECTIONS at a time. */
async function send(url: string, png: Buffer, amount: number): Promise<Load> {
  const start = performance.now();
  let lastAnswer = start;
  // autocannon notices that the last request is answered only at its next one-second tick (its
  // duration, and the time until its promise settles, come in whole seconds: too coarse for runs
  // of a few seconds), so the clock stops at the last answer instead. The instance it returns is
  // also an event emitter, which bench/autocannon.d.ts does not declare.
  const run = autocannon({
    url: `${url}/v1/predict`,
    method: 'POST',
    headers: { 'content-type': 'image/png' },
    body: png,
    connections: CONNECTIONS,
    amount,
    timeout: 10,
  });
  (run as unknown as { on(event: 'response', listener: () => void): void }).on('response', () => {
    lastAnswer = performance.now();
  });
  const result = await run;
  const seconds = (lastAnswer - start) / 1000;
  return {
    requests: result.requests.total,
    requestsPerSecond: Math.round(result.requests.total / seconds),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: result.errors + result.timeouts + result.non2xx,
  };
}

export async function scaleFigures(runDir: string, data: Dataset): Promise<Record<string, unknown>> {
  const machine = { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, loadAverageAtStart: loadAverage() };
  if (!findHaproxy()) {
    log('scale: haproxy is not installed (apt-get install haproxy): skipped');
    return { scale: { skipped: 'haproxy is not installed', machine } };
  }
  const png = await sharp(Buffer.from(data.test.images.subarray(0, 784)), {
    raw: { width: 28, height: 28, channels: 1 },
  })
    .png()
    .toBuffer();

  const servers: ServeProcess[] = [];
  const proxies: RunningHaproxy[] = [];
  try {
    log(`scale: starting ${Math.max(...COUNTS)} mnist-cnn serve processes and HAProxy in front of 1, 2 and 3 of them`);
    for (let i = 0; i < Math.max(...COUNTS); i++) servers.push(await startServeProcess(runDir, { timeoutMs: 120_000 }));
    for (const count of COUNTS) {
      proxies.push(
        await startHaproxy(
          servers.slice(0, count).map((server, i) => ({ name: `s${i + 1}`, port: server.port })),
          { timeoutMs: 60_000 },
        ),
      );
    }
    // The set-ups: one server straight, then HAProxy in front of 1, 2, 3.
    const setups: { name: string; url: string; proxy?: RunningHaproxy }[] = [
      { name: 'direct', url: servers[0].url },
      ...COUNTS.map((count, i) => ({ name: String(count), url: proxies[i].url, proxy: proxies[i] })),
    ];
    for (const setup of setups) await send(setup.url, png, WARM_UP); // every server's first calls, connections, HAProxy's pools

    // Rounds, each measuring every set-up in turn, starting one further along each time, so that
    // a burst of other work on the machine, or the order itself, falls on all of them alike; each
    // set-up's median round counts.
    const runs = new Map<string, (Load & { perServer?: Record<string, number> })[]>(
      setups.map((setup) => [setup.name, []]),
    );
    for (let round = 1; round <= ROUNDS; round++) {
      log(
        `scale: round ${round} of ${ROUNDS}: one server straight and through HAProxy to 1, 2, 3 (${REQUESTS} requests each, ${CONNECTIONS} connections)`,
      );
      for (const setup of [...setups.slice(round % setups.length), ...setups.slice(0, round % setups.length)]) {
        const answered = async () =>
          new Map((await setup.proxy?.servers())?.map((server) => [server.name, server.answered2xx]));
        const before = await answered();
        const load = await send(setup.url, png, REQUESTS);
        // How HAProxy spread the measured requests: each server's 200s.
        const perServer = Object.fromEntries(
          [...(await answered())].map(([name, count]) => [name, count - (before.get(name) ?? 0)]),
        );
        runs.get(setup.name)?.push(setup.proxy ? { ...load, perServer } : load);
      }
    }
    const median = (name: string) => {
      const sorted = [...(runs.get(name) ?? [])].sort((a, b) => a.requestsPerSecond - b.requestsPerSecond);
      return sorted[Math.floor(sorted.length / 2)];
    };
    const direct = median('direct');
    const throughHaproxy = Object.fromEntries(COUNTS.map((count) => [String(count), median(String(count))]));

    return {
      scaleDirectRequestsPerSecond: direct.requestsPerSecond,
      scale1RequestsPerSecond: throughHaproxy['1'].requestsPerSecond,
      scale2RequestsPerSecond: throughHaproxy['2'].requestsPerSecond,
      scale3RequestsPerSecond: throughHaproxy['3'].requestsPerSecond,
      scale: {
        request: `POST /v1/predict, a ${png.length}-byte 28x28 PNG`,
        requests: REQUESTS,
        connections: CONNECTIONS,
        rounds: ROUNDS,
        directOneServer: direct,
        throughHaproxy,
        allRounds: Object.fromEntries(
          [...runs].map(([name, loads]) => [name, loads.map((load) => load.requestsPerSecond)]),
        ),
        machine: { ...machine, loadAverageAtEnd: loadAverage() },
        note:
          `the servers, HAProxy and autocannon all ran on this machine (${machine.cores} cores); a server computes on one core, ` +
          'so servers beyond the cores add no throughput, and HAProxy and the load generator take their share of the same cores',
      },
    };
  } finally {
    await Promise.allSettled(proxies.map((proxy) => proxy.stop()));
    await Promise.allSettled(servers.map((server) => server.stop()));
  }
}

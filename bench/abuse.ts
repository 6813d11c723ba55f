/**
 * `npm run bench -- --only abuse`: the server under abuse (issues #15 and #24), against real
 * `mnist-cnn serve` processes on 127.0.0.1. Sets, each bounded:
 *   webp30      the 30-byte WebP of issue #24 on every route that takes images, and through
 *               `mnist-cnn predict` beside a good PNG
 *   headerfuzz  100,000 real headers of every format cut and mutated, to POST /v1/predict: no
 *               5xx, no stack trace, nothing on stderr
 *   inlimit     pictures within the limits sent 64 at once (4096x4096 16-bit interlaced PNG,
 *               4000x4000 progressive JPEG, 4096x4096 1-bit BMP), 6 multipart batches of 38 such
 *               PNGs, 64 clients that give up: peak RSS, /healthz latency meanwhile (from a thread
 *               of its own, a fresh connection each time, as the kubelet probes), the CPU the
 *               server spends in the second that starts 1 s after the last answer; a fresh server
 *               each, then the three on one server; 256 idle connections held with /healthz and
 *               /readyz probed; an idle server's /healthz latency (what the machine's load costs)
 *   fuzz        ten thousand random requests to every route (fast-check: bodies, headers, content
 *               types, methods): no 5xx, the error shape, no crash, nothing on stderr, tensors flat
 *   bombs       decompression bombs of every format sharp reads (and SVG): time to the refusal and
 *               the server's peak RSS growth per request (/proc: VmHWM after clear_refs)
 *   slow        slow clients: 20 POST bodies trickled a byte a second (closed by the request
 *               timeout?), requests in flight and connections past their caps (503s), and a
 *               normal request answered meanwhile
 *   soak        100,000 requests of a mix (valid PNGs and JSON, bad bodies, bombs) over 8
 *               connections: RSS and tensors at start and end
 * Linux only (/proc). BENCH_ABUSE_SOAK, BENCH_ABUSE_FUZZ and BENCH_ABUSE_HEADER_FUZZ change the
 * counts, BENCH_ABUSE_SETS (e.g. "bombs,slow") the sets run, BENCH_ABUSE_SEED the fuzz seeds,
 * BENCH_ABUSE_SERVER_ENV (e.g. "MALLOC_MMAP_THRESHOLD_=131072") the environment of the inlimit
 * servers, BENCH_ABUSE_CLI another build's bin/mnist-cnn.js to run the servers from (an A/B).
 * The machine's load average goes with the figures.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request as httpRequest } from 'node:http';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import sharp from 'sharp';
import { encodedBombs, headerBombs, inLimitBombs, thirtyByteWebp, type Bomb } from '../test/serve/fixtures/bombs.js';
import { answerProblem, fuzzRequests, sendFuzzRequest, type FuzzRequest } from '../test/serve/fixtures/fuzz.js';
import { headerFiles, mutatedHeaders } from '../test/serve/fixtures/headers.js';
import { connect, head, multipartBody, rawRequest } from '../test/serve/fixtures/http.js';

type Figures = Record<string, unknown>;
/** The CLI the servers run: this checkout's, or another's (BENCH_ABUSE_CLI: an A/B against another build). */
const CLI = process.env.BENCH_ABUSE_CLI ?? fileURLToPath(new URL('../bin/mnist-cnn.js', import.meta.url));
const MODEL_NAME = 'mnist';

interface ServeChild {
  url: string;
  pid: number;
  child: ChildProcess;
  stderr: () => string;
  stop: () => Promise<number | null>;
}

async function startServe(runDir: string, args: string[] = [], env: Record<string, string> = {}): Promise<ServeChild> {
  const child = spawn(process.execPath, [CLI, 'serve', runDir, '--port', '0', '--model-name', MODEL_NAME, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => (stdout += d));
  child.stderr?.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((done) => child.on('exit', done));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setInterval(() => {
      const match = / at (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout);
      if (match) {
        clearInterval(timer);
        resolve(match[1]);
      }
    }, 50);
    void exited.then((code) => {
      clearInterval(timer);
      reject(new Error(`mnist-cnn serve exited with ${code}: ${stdout}${stderr}`));
    });
  });
  return {
    url,
    pid: child.pid ?? 0,
    child,
    stderr: () => stderr,
    async stop() {
      child.kill('SIGTERM');
      const kill = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const code = await exited;
      clearTimeout(kill);
      return code;
    },
  };
}

/** kB fields of /proc/<pid>/status, in MB. */
function memory(pid: number): { rssMB: number; peakMB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMB: kb('VmRSS') / 1024, peakMB: kb('VmHWM') / 1024 };
}

/** Reset the peak RSS to the current RSS (Linux ≥ 4.0). */
const resetPeak = (pid: number) => writeFileSync(`/proc/${pid}/clear_refs`, '5');

/** Seconds the server has spent answering POST /v1/predict so far (its latency histogram's sum). */
async function serverSeconds(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/^mnist_http_request_duration_seconds_sum\{route="\/v1\/predict"\} ([\d.e+-]+)$/m.exec(text)?.[1] ?? 0);
}

async function tensors(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/^tfjs_tensors (\d+)$/m.exec(text)?.[1] ?? NaN);
}

const round = (x: number, digits = 1) => Number(x.toFixed(digits));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function digitFiles(): Promise<{ png28: Buffer; drawing: Buffer; printed: Buffer[] }> {
  const svg = (digit: string) =>
    Buffer.from(
      `<svg xmlns="http://www.w3.org/2000/svg" width="200" height="200"><rect width="200" height="200" fill="white"/><text x="100" y="172" font-size="180" font-family="DejaVu Sans" text-anchor="middle">${digit}</text></svg>`,
    );
  const drawing = await sharp(
    Buffer.from(
      '<svg xmlns="http://www.w3.org/2000/svg" width="280" height="280"><rect width="280" height="280" fill="black"/><path d="M70 56 H210 L126 238" stroke="white" stroke-width="20" fill="none" stroke-linecap="round" stroke-linejoin="round"/></svg>',
    ),
  )
    .png()
    .toBuffer();
  const png28 = await sharp(svg('4')).resize(28, 28).png().toBuffer();
  return {
    png28,
    drawing,
    printed: [
      await sharp(svg('7')).png().toBuffer(),
      await sharp(svg('3')).jpeg().toBuffer(),
      await sharp(svg('5')).webp().toBuffer(),
    ],
  };
}

// ---------------------------------------------------------------------------- fuzz

async function fuzz(runDir: string, count: number, log: (m: string) => void): Promise<Figures> {
  const files = await digitFiles();
  const assets = {
    images: files.printed.map((b) => new Uint8Array(b)),
    bombs: await headerBombs(),
    modelName: MODEL_NAME,
  };
  const server = await startServe(runDir);
  try {
    const requests = fc.sample(fuzzRequests(assets), {
      numRuns: count,
      seed: Number(process.env.BENCH_ABUSE_SEED ?? 1515),
    });
    const tensorsStart = await tensors(server.url);
    const rssStart = memory(server.pid).rssMB;
    const byStatus: Record<string, number> = {};
    const problems: string[] = [];
    const started = performance.now();
    let next = 0;
    const worker = async () => {
      while (next < requests.length) {
        const request: FuzzRequest = requests[next++];
        try {
          const answer = await sendFuzzRequest(server.url, request);
          byStatus[answer.status] = (byStatus[answer.status] ?? 0) + 1;
          const problem = answerProblem(request, answer);
          if (problem && problems.length < 20) problems.push(problem);
        } catch (err) {
          if (problems.length < 20) problems.push(`${request.method} ${request.path}: ${(err as Error).message}`);
        }
        if (next % 2000 === 0) log(`fuzz: ${next} of ${count}`);
      }
    };
    await Promise.all([0, 1, 2, 3].map(worker));
    const seconds = (performance.now() - started) / 1000;
    const alive = (await fetch(`${server.url}/healthz`)).status === 200;
    const tensorsEnd = await tensors(server.url);
    const stackLines = server
      .stderr()
      .split('\n')
      .filter((line) => /^\s+at /.test(line)).length;
    return {
      cases: count,
      seconds: round(seconds),
      byStatus,
      fiveHundreds: Object.entries(byStatus)
        .filter(([s]) => Number(s) >= 500 && Number(s) !== 503)
        .reduce((n, [, c]) => n + c, 0),
      problems,
      serverAlive: alive,
      stderrLines: server.stderr().split('\n').filter(Boolean).length,
      stackLines,
      tensorsStart,
      tensorsEnd,
      rssStartMB: round(rssStart),
      rssEndMB: round(memory(server.pid).rssMB),
    };
  } finally {
    await server.stop();
  }
}

// ---------------------------------------------------------------------------- bombs

async function sendBomb(url: string, bomb: Bomb): Promise<number> {
  const raw = bomb.type !== 'application/octet-stream';
  const body = raw
    ? bomb.bytes
    : new Uint8Array(
        multipartBody([{ name: 'file', filename: 'f', type: 'application/octet-stream', data: bomb.bytes }]),
      );
  const type = raw ? bomb.type : 'multipart/form-data; boundary=XBOUNDARYX';
  const response = await fetch(`${url}/v1/predict`, { method: 'POST', body, headers: { 'content-type': type } });
  await response.arrayBuffer();
  return response.status;
}

async function bombs(runDir: string, log: (m: string) => void): Promise<Figures> {
  log('bombs: making the encoded set (cached under .cache/bombs-v1; half a minute the first time)');
  const set = [...(await headerBombs()), ...(await encodedBombs())];
  const server = await startServe(runDir);
  try {
    // Warm the paths once (the first request of a kind loads code).
    for (const bomb of set) await sendBomb(server.url, bomb);
    const rows: Figures[] = [];
    for (const bomb of set) {
      const times: number[] = [];
      const serverTimes: number[] = [];
      let growth = 0;
      const statuses = new Set<number>();
      for (let i = 0; i < 5; i++) {
        const serverBefore = await serverSeconds(server.url);
        resetPeak(server.pid);
        const before = memory(server.pid).rssMB;
        const started = performance.now();
        statuses.add(await sendBomb(server.url, bomb));
        times.push(performance.now() - started);
        growth = Math.max(growth, memory(server.pid).peakMB - before);
        serverTimes.push((await serverSeconds(server.url)) - serverBefore);
      }
      rows.push({
        name: bomb.name,
        bytes: bomb.bytes.length,
        claims: `${bomb.width}x${bomb.height}`,
        status: [...statuses].join('/'),
        expected: bomb.status,
        medianMs: round(median(times)),
        maxMs: round(Math.max(...times)),
        serverMedianMs: round(median(serverTimes) * 1000, 2),
        peakRssGrowthMB: round(growth),
      });
    }
    // Three of the 16000x16000 PNGs at once (the issue: 5.4 GB before).
    const png = set.find((b) => b.name === 'png') as Bomb;
    resetPeak(server.pid);
    const before = memory(server.pid).rssMB;
    const started = performance.now();
    const three = await Promise.all([0, 1, 2].map(() => sendBomb(server.url, png)));
    const threeAtOnce = {
      statuses: three,
      ms: round(performance.now() - started),
      peakRssGrowthMB: round(memory(server.pid).peakMB - before),
    };
    // A picture at the limit (4096x4096 PNG): read, not refused; what it costs.
    const atLimit = await sharp({ create: { width: 4096, height: 4096, channels: 3, background: '#ffffff' } })
      .png()
      .toBuffer();
    const limitTimes: number[] = [];
    let limitGrowth = 0;
    for (let i = 0; i < 3; i++) {
      resetPeak(server.pid);
      const rss = memory(server.pid).rssMB;
      const t = performance.now();
      const response = await fetch(`${server.url}/v1/predict`, {
        method: 'POST',
        body: new Uint8Array(atLimit),
        headers: { 'content-type': 'image/png' },
      });
      await response.arrayBuffer();
      limitTimes.push(performance.now() - t);
      limitGrowth = Math.max(limitGrowth, memory(server.pid).peakMB - rss);
    }
    return {
      rows,
      threeAtOnce,
      atLimit4096: { medianMs: round(median(limitTimes)), peakRssGrowthMB: round(limitGrowth) },
      allRefusedAsExpected: rows.every((r) => String(r.status) === String(r.expected)),
      maxMedianMs: Math.max(...rows.map((r) => r.medianMs as number)),
      maxServerMedianMs: Math.max(...rows.map((r) => r.serverMedianMs as number)),
      maxPeakRssGrowthMB: Math.max(...rows.map((r) => r.peakRssGrowthMB as number)),
      stderrLines: server.stderr().split('\n').filter(Boolean).length,
    };
  } finally {
    await server.stop();
  }
}

// ---------------------------------------------------------------------------- slow clients

async function slowClients(runDir: string, log: (m: string) => void): Promise<Figures> {
  const files = await digitFiles();
  const server = await startServe(runDir);
  const figures: Figures = {};
  try {
    log('slow: 20 POST bodies trickled a byte a second (default request timeout)');
    const body = JSON.stringify({ pixels: new Array(784).fill(0) });
    const started = performance.now();
    const slow = await Promise.all(Array.from({ length: 20 }, () => connect(server.url, { closeAfterMs: 120_000 })));
    const closedAt: number[] = [];
    const statuses: number[] = [];
    for (const connection of slow) {
      connection.write(
        head('POST', '/v1/predict', { 'Content-Type': 'application/json', 'Content-Length': body.length }),
      );
      let at = 0;
      const timer = setInterval(() => connection.write(body[at++ % body.length]), 1_000);
      void connection.closed.then((answer) => {
        clearInterval(timer);
        closedAt.push((performance.now() - started) / 1000);
        statuses.push(answer.status);
      });
    }
    // Meanwhile a normal request is answered.
    const t = performance.now();
    const normal = await fetch(`${server.url}/v1/predict`, {
      method: 'POST',
      body: new Uint8Array(files.drawing),
      headers: { 'content-type': 'image/png' },
    });
    const normalMs = performance.now() - t;
    await Promise.all(slow.map((c) => c.closed));
    figures.trickled = {
      connections: 20,
      statuses: [...new Set(statuses)],
      closedAfterSeconds: { min: round(Math.min(...closedAt)), max: round(Math.max(...closedAt)) },
      normalRequestStatus: normal.status,
      normalRequestMs: round(normalMs),
    };

    log('slow: 80 requests in flight at once (cap 64), then 300 idle connections (cap 256)');
    const inFlight = await Promise.all(Array.from({ length: 80 }, () => connect(server.url, { closeAfterMs: 60_000 })));
    for (const c of inFlight)
      c.write(
        head('POST', '/v1/predict', {
          'Content-Type': 'application/json',
          'Content-Length': body.length,
          Connection: 'close',
        }) + body.slice(0, 10),
      );
    await new Promise((r) => setTimeout(r, 1_000));
    const probe = await fetch(`${server.url}/v1/predict`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json' },
    });
    const readyz = (await fetch(`${server.url}/readyz`)).status;
    for (const c of inFlight) c.write(body.slice(10));
    const inFlightStatuses = (await Promise.all(inFlight.map((c) => c.closed))).map((a) => a.status);
    figures.inFlight = {
      sent: 80,
      ok: inFlightStatuses.filter((s) => s === 200).length,
      busy503: inFlightStatuses.filter((s) => s === 503).length,
      extraRequestStatus: probe.status,
      retryAfter: probe.headers.get('retry-after'),
      readyzMeanwhile: readyz,
    };

    const idle = await Promise.all(Array.from({ length: 300 }, () => connect(server.url, { closeAfterMs: 60_000 })));
    // Past the cap a connection is given a second to send a probe's request line, then refused.
    await new Promise((r) => setTimeout(r, 1_500));
    const over = await rawRequest(server.url, head('GET', '/healthz', { Connection: 'close' }));
    for (const c of idle) c.socket.destroy();
    const refusedIdle = (await Promise.all(idle.map((c) => c.closed))).filter((a) => a.status === 503).length;
    figures.connections = {
      opened: 300,
      refused503: refusedIdle,
      nextStatus: over.status,
      retryAfter: over.headers['retry-after'] ?? null,
    };
    figures.stderrLines = server.stderr().split('\n').filter(Boolean).length;
  } finally {
    await server.stop();
  }
  return figures;
}

// ---------------------------------------------------------------------------- in-limit bombs at once

/** CPU seconds (user + system) a process has used so far (/proc/<pid>/stat, in clock ticks of 1/100 s). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
const quantile = (xs: number[], q: number) =>
  xs.length ? [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))] : NaN;
const countBy = (xs: (number | string)[]) =>
  xs.reduce<Record<string, number>>((counts, x) => ({ ...counts, [x]: (counts[x] ?? 0) + 1 }), {});

/**
 * The probe loop, run on a thread of its own (its own event loop, as the kubelet is a process of
 * its own): sending 64 bodies of 2 MB from the bench's main thread must not delay its probes.
 * Every `everyMs` a probe as the kubelet sends it (a fresh connection, `Connection: close`),
 * whatever the earlier ones are doing; on 'stop', the latencies and statuses.
 */
const PROBE_THREAD = `
const net = require('node:net');
const { parentPort, workerData } = require('node:worker_threads');
const { port, paths, everyMs } = workerData;
const times = [];
const statuses = {};
let pending = 0;
let stopping = false;
let tick = 0;
const finish = () => parentPort.postMessage({ times, statuses });
const probe = (path) => {
  const started = performance.now();
  pending++;
  let text = '';
  const socket = net.connect(port, '127.0.0.1', () => socket.write('GET ' + path + ' HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\nConnection: close\\r\\n\\r\\n'));
  socket.setTimeout(120000, () => socket.destroy());
  socket.on('data', (d) => (text += d.toString('latin1')));
  socket.on('error', () => {});
  socket.on('close', () => {
    const status = Number(/^HTTP\\/1\\.[01] (\\d{3})/.exec(text)?.[1] ?? 0);
    const code = status === 503 ? ' ' + (/"(?:code|status)":"(\\w+)"/.exec(text)?.[1] ?? '') : '';
    const key = path + ' ' + (status ? status + code : 'error');
    statuses[key] = (statuses[key] ?? 0) + 1;
    if (status) times.push(performance.now() - started);
    if (--pending === 0 && stopping) finish();
  });
};
const timer = setInterval(() => probe(paths[tick++ % paths.length]), everyMs);
parentPort.on('message', () => {
  clearInterval(timer);
  stopping = true;
  if (pending === 0) finish();
});
`;

function probeLoop(url: string, paths: string[] = ['/healthz'], everyMs = 50) {
  const worker = new Worker(PROBE_THREAD, {
    eval: true,
    workerData: { port: Number(new URL(url).port), paths, everyMs },
  });
  const result = new Promise<{ times: number[]; statuses: Record<string, number> }>((resolve) =>
    worker.once('message', resolve),
  );
  return {
    async stop() {
      worker.postMessage('stop');
      const { times, statuses } = await result;
      await worker.terminate();
      return {
        probes: times.length,
        p50Ms: round(quantile(times, 0.5)),
        p99Ms: round(quantile(times, 0.99)),
        maxMs: round(Math.max(...times)),
        statuses,
      };
    },
  };
}

/** /healthz latency of a server doing nothing, over `seconds`: what the machine's own load costs a probe. */
async function idleProbes(server: ServeChild, seconds: number): Promise<Figures> {
  const probe = probeLoop(server.url);
  await sleep(seconds * 1000);
  return { seconds, machineLoad: round(loadavg()[0], 2), ...(await probe.stop()) };
}

/**
 * Send `count` requests at once with `send`, probing /healthz meanwhile: the answers, the
 * server's peak RSS (VmHWM, reset before), /healthz latency while they run, and the CPU the
 * server spends in the second that starts 1 s after the last answer (work left behind).
 */
async function atOnce(
  server: ServeChild,
  count: number,
  send: (i: number) => Promise<number | string>,
): Promise<Figures> {
  await sleep(500);
  resetPeak(server.pid);
  const rssBefore = memory(server.pid).rssMB;
  const cpuBefore = cpuSeconds(server.pid);
  const probe = probeLoop(server.url);
  const started = performance.now();
  const statuses = await Promise.all(
    Array.from({ length: count }, (_, i) => send(i).catch((err: Error) => `error ${err.name}`)),
  );
  const lastAnswer = performance.now();
  const healthz = await probe.stop();
  const peak = memory(server.pid).peakMB;
  const cpuDuring = cpuSeconds(server.pid) - cpuBefore;
  await sleep(1000 - (performance.now() - lastAnswer));
  const cpuAt1s = cpuSeconds(server.pid);
  await sleep(1000);
  return {
    requests: count,
    statuses: countBy(statuses),
    seconds: round((lastAnswer - started) / 1000),
    rssBeforeMB: round(rssBefore),
    peakRssMB: round(peak),
    serverCpuSeconds: round(cpuDuring),
    cpuSecondsInTheSecondAfter1s: round(cpuSeconds(server.pid) - cpuAt1s, 2),
    healthz,
  };
}

/** POST `body` to `path`; the status, with the error code of a 503. */
async function post(
  url: string,
  path: string,
  body: Uint8Array | Buffer,
  type: string,
  signal?: AbortSignal,
): Promise<number | string> {
  const response = await fetch(`${url}${path}`, {
    method: 'POST',
    body: new Uint8Array(body),
    headers: { 'content-type': type },
    signal,
  });
  const text = await response.text();
  return response.status === 503 || response.status === 413
    ? `${response.status} ${/"code":"(\w+)"/.exec(text)?.[1] ?? ''}`.trim()
    : response.status;
}

/** `run` against a fresh `mnist-cnn serve` process, stopped after (each case's memory figures are its own). */
async function withServer(runDir: string, run: (server: ServeChild) => Promise<Figures>): Promise<Figures> {
  const server = await startServe(
    runDir,
    [],
    process.env.BENCH_ABUSE_SERVER_ENV
      ? Object.fromEntries(process.env.BENCH_ABUSE_SERVER_ENV.split(',').map((kv) => kv.split('=')))
      : {},
  );
  try {
    const figures = await run(server);
    return { ...figures, stderrLines: server.stderr().split('\n').filter(Boolean).length };
  } finally {
    await server.stop();
  }
}

async function inLimit(runDir: string, log: (m: string) => void): Promise<Figures> {
  log('inlimit: making the pictures (cached under .cache/bombs-v1)');
  const { png16, jpegProgressive, bmp1 } = await inLimitBombs();
  const figures: Figures = {
    bytes: { png16: png16.length, jpegProgressive: jpegProgressive.length, bmp1: bmp1.length },
    serverEnv: process.env.BENCH_ABUSE_SERVER_ENV ?? '',
  };
  const n = 64;
  log('inlimit: /healthz of an idle server for 10 s (what the machine costs a probe)');
  figures.idleServer = await withServer(runDir, (server) => idleProbes(server, 10));
  log('inlimit: 64 x 4096x4096 16-bit interlaced PNG at once');
  figures.png16 = await withServer(runDir, (server) =>
    atOnce(server, n, () => post(server.url, '/v1/predict', png16, 'image/png')),
  );
  log('inlimit: 64 x 4000x4000 progressive JPEG at once');
  figures.jpegProgressive = await withServer(runDir, (server) =>
    atOnce(server, n, () => post(server.url, '/v1/predict', jpegProgressive, 'image/jpeg')),
  );
  log('inlimit: 64 x 4096x4096 1-bit BMP at once');
  figures.bmp1 = await withServer(runDir, (server) =>
    atOnce(server, n, () => post(server.url, '/v1/predict', bmp1, 'image/bmp')),
  );
  log('inlimit: 6 multipart batches of 38 such PNGs at once');
  const batch = multipartBody(
    Array.from({ length: 38 }, (_, i) => ({ name: 'files', filename: `${i}.png`, type: 'image/png', data: png16 })),
  );
  figures.batches = {
    bodyBytes: batch.length,
    ...(await withServer(runDir, (server) =>
      atOnce(server, 6, () => post(server.url, '/v1/predict/batch', batch, 'multipart/form-data; boundary=XBOUNDARYX')),
    )),
  };
  log('inlimit: 64 such PNGs whose clients give up after 500 ms');
  figures.clientsGone = await withServer(runDir, (server) =>
    atOnce(server, n, async () => {
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), 500);
      try {
        return await post(server.url, '/v1/predict', png16, 'image/png', controller.signal);
      } catch {
        return 'gave up';
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  log('inlimit: the three kinds one after another on one server (64 of each at once): what the allocator keeps');
  figures.sequence = await withServer(runDir, async (server) => {
    const rows: Figures[] = [];
    for (const [name, bytes, type] of [
      ['png16', png16, 'image/png'],
      ['jpegProgressive', jpegProgressive, 'image/jpeg'],
      ['bmp1', bmp1, 'image/bmp'],
    ] as const) {
      const row = await atOnce(server, n, () => post(server.url, '/v1/predict', bytes, type));
      rows.push({ name, rssBeforeMB: row.rssBeforeMB, peakRssMB: row.peakRssMB, statuses: row.statuses });
    }
    return { rows, rssAfterMB: round(memory(server.pid).rssMB) };
  });
  figures.idle = await idleConnections(runDir, log);
  return figures;
}

/**
 * 256 connections opened and held idle (each reopened as soon as the server closes it, as an
 * attacker would), and /healthz and /readyz probed meanwhile on fresh connections for 15 s.
 */
async function idleConnections(runDir: string, log: (m: string) => void): Promise<Figures> {
  log('inlimit: 256 idle connections held for 15 s, /healthz and /readyz probed meanwhile');
  const server = await startServe(runDir);
  let holding = true;
  let reopened = 0;
  const hold = async (): Promise<void> => {
    while (holding) {
      const connection = await connect(server.url).catch(() => undefined);
      if (!connection) {
        await sleep(100);
        continue;
      }
      const stop = () => connection.socket.destroy();
      const closed = connection.closed;
      const check = setInterval(() => {
        if (!holding) stop();
      }, 100);
      await closed;
      clearInterval(check);
      if (holding) reopened++;
    }
  };
  try {
    const holders = Array.from({ length: 256 }, hold);
    await sleep(1000);
    const probe = probeLoop(server.url, ['/healthz', '/readyz'], 100);
    await sleep(15_000);
    const probes = await probe.stop();
    const predict = await post(
      server.url,
      '/v1/predict',
      new Uint8Array(
        JSON.stringify({ pixels: new Array(784).fill(0) })
          .split('')
          .map((c) => c.charCodeAt(0)),
      ),
      'application/json',
    );
    holding = false;
    await Promise.all(holders);
    return { held: 256, reopenedByTheServerClosing: reopened, probes, predictMeanwhile: predict };
  } finally {
    holding = false;
    await server.stop();
  }
}

// ---------------------------------------------------------------------------- header fuzz

/**
 * Real headers of every format the API reads, cut and mutated (test/serve/fixtures/headers.ts,
 * the cases of test/image/header-reader.test.ts), sent to POST /v1/predict over 8 keep-alive
 * connections, with their own type or as application/octet-stream: no 5xx but 503, the error
 * shape, no stack trace, nothing on stderr.
 */
async function headerFuzz(runDir: string, count: number, log: (m: string) => void): Promise<Figures> {
  // All the cases of one seed, made a thousand at a time (a hundred thousand files at once is hundreds of MB).
  const cases = mutatedHeaders(await headerFiles());
  const seed = Number(process.env.BENCH_ABUSE_SEED ?? 2424);
  const all = fc.sample(fc.infiniteStream(cases), { numRuns: 1, seed })[0];
  const batch: { what: string; bytes: Uint8Array; type: string }[] = [];
  const take = (): { what: string; bytes: Uint8Array; type: string } => {
    if (batch.length === 0) for (const one of all.take(1000)) batch.push(one);
    return batch.shift() as { what: string; bytes: Uint8Array; type: string };
  };
  const server = await startServe(runDir);
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  const { hostname, port } = new URL(server.url);
  const byStatus: Record<string, number> = {};
  const problems: string[] = [];
  const send = (i: number) =>
    new Promise<void>((resolve) => {
      const { what, bytes, type } = take();
      const request: FuzzRequest = {
        method: 'POST',
        path: '/v1/predict',
        headers: { 'content-type': i % 2 ? type : 'application/octet-stream' },
        body: bytes,
      };
      const req = httpRequest(
        {
          host: hostname,
          port,
          path: request.path,
          method: 'POST',
          agent,
          headers: { ...request.headers, 'content-length': bytes.length },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            byStatus[status] = (byStatus[status] ?? 0) + 1;
            const problem = answerProblem(request, { status, body: Buffer.concat(chunks).toString('utf8') });
            if (problem && problems.length < 20) problems.push(`${what}: ${problem}`);
            resolve();
          });
        },
      );
      req.on('error', (err) => {
        if (problems.length < 20) problems.push(`${what}: ${err.message}`);
        resolve();
      });
      req.end(bytes);
    });
  try {
    const started = performance.now();
    let next = 0;
    let done = 0;
    const worker = async () => {
      while (next < count) {
        await send(next++);
        if (++done % 10_000 === 0) log(`headerfuzz: ${done} of ${count}`);
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    const stderr = server.stderr();
    return {
      cases: count,
      seconds: round((performance.now() - started) / 1000),
      byStatus,
      fiveHundreds: Object.entries(byStatus)
        .filter(([st]) => Number(st) >= 500 && Number(st) !== 503)
        .reduce((n, [, c]) => n + c, 0),
      problems,
      serverAlive: (await fetch(`${server.url}/healthz`)).status === 200,
      stderrLines: stderr.split('\n').filter(Boolean).length,
      stackLines: stderr.split('\n').filter((line) => /^\s+at /.test(line)).length,
    };
  } finally {
    agent.destroy();
    await server.stop();
  }
}

// ---------------------------------------------------------------------------- the 30-byte WebP

/** The 30-byte WebP of issue #24 through every route that takes images, and through `mnist-cnn predict` beside a good PNG. */
async function webp30(runDir: string): Promise<Figures> {
  const webp = thirtyByteWebp();
  const { png28 } = await digitFiles();
  const server = await startServe(runDir);
  const base64 = Buffer.from(webp).toString('base64');
  const code = async (response: Response) =>
    `${response.status} ${
      /"code":"(\w+)"|"error":"([^"]{0,60})/
        .exec(await response.text())
        ?.slice(1)
        .find(Boolean) ?? ''
    }`.trim();
  const json = (path: string, value: unknown) =>
    fetch(`${server.url}${path}`, {
      method: 'POST',
      body: JSON.stringify(value),
      headers: { 'content-type': 'application/json' },
    }).then(code);
  const form = (path: string) =>
    fetch(`${server.url}${path}`, {
      method: 'POST',
      body: new Uint8Array(multipartBody([{ name: 'file', filename: 'w.webp', type: 'image/webp', data: webp }])),
      headers: { 'content-type': 'multipart/form-data; boundary=XBOUNDARYX' },
    }).then(code);
  try {
    const routes = {
      raw: await fetch(`${server.url}/v1/predict`, {
        method: 'POST',
        body: webp,
        headers: { 'content-type': 'image/webp' },
      }).then(code),
      dataUrl: await json('/v1/predict', { image: `data:image/webp;base64,${base64}` }),
      multipart: await form('/v1/predict'),
      batchMultipart: await form('/v1/predict/batch'),
      batchJson: await json('/v1/predict/batch', { items: [{ image: base64 }] }),
      v2Bytes: await json(`/v2/models/${MODEL_NAME}/infer`, {
        inputs: [{ name: 'image', datatype: 'BYTES', shape: [1], data: [base64] }],
      }),
    };
    const dir = await mkdtemp(join(tmpdir(), 'abuse-webp30-'));
    try {
      await writeFile(join(dir, 'w.webp'), webp);
      await writeFile(join(dir, 'other.png'), png28);
      const cli = spawnSync(
        process.execPath,
        [CLI, 'predict', runDir, join(dir, 'w.webp'), join(dir, 'other.png'), '--format', 'json'],
        { encoding: 'utf8' },
      );
      const otherRead = /other\.png/.test(cli.stdout) && /"digit"/.test(cli.stdout);
      return {
        bytes: webp.length,
        routes,
        stderrLines: server.stderr().split('\n').filter(Boolean).length,
        predictCli: { exitCode: cli.status, otherRead, stderr: cli.stderr.trim().split('\n').slice(0, 3) },
      };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  } finally {
    await server.stop();
  }
}

// ---------------------------------------------------------------------------- soak

async function soak(runDir: string, total: number, log: (m: string) => void): Promise<Figures> {
  const files = await digitFiles();
  const set = await headerBombs();
  const png = set.find((b) => b.name === 'png') as Bomb;
  const json = (value: unknown) => Buffer.from(JSON.stringify(value));
  const mix: { path: string; type: string; body: Buffer; ok: boolean }[] = [
    { path: '/v1/predict', type: 'image/png', body: files.png28, ok: true },
    { path: '/v1/predict', type: 'image/png', body: files.drawing, ok: true },
    { path: '/v1/predict', type: 'image/jpeg', body: files.printed[1], ok: true },
    {
      path: '/v1/predict',
      type: 'application/json',
      body: json({ pixels: Array.from({ length: 784 }, (_, i) => (i * 7) % 256) }),
      ok: true,
    },
    {
      path: '/v1/predict/batch',
      type: 'application/json',
      body: json({ items: [{ pixels: new Array(784).fill(0) }, { image: files.png28.toString('base64') }] }),
      ok: true,
    },
    { path: '/v1/predict', type: 'image/png', body: Buffer.from('not a png'), ok: false },
    { path: '/v1/predict', type: 'application/json', body: json({ pixels: [1, 2, 3] }), ok: false },
    { path: '/v1/predict', type: 'image/png', body: Buffer.from(png.bytes), ok: false },
    { path: '/v1/predict', type: 'image/png', body: Buffer.from(set[0].bytes), ok: false },
    {
      path: '/v1/predict',
      type: 'multipart/form-data; boundary=XBOUNDARYX',
      body: multipartBody([
        { name: 'a', filename: 'a.png', type: 'image/png', data: files.png28 },
        { name: 'b', filename: 'b.png', type: 'image/png', data: files.png28 },
      ]),
      ok: false,
    },
  ];
  const server = await startServe(runDir);
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  const send = (i: number) =>
    new Promise<number>((resolve) => {
      const item = mix[i % mix.length];
      const { hostname, port } = new URL(server.url);
      const req = httpRequest(
        {
          host: hostname,
          port,
          path: item.path,
          method: 'POST',
          agent,
          headers: { 'content-type': item.type, 'content-length': item.body.length },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', () => resolve(-1));
      req.end(item.body);
    });
  try {
    const run = async (count: number, onProgress?: (done: number) => void) => {
      const byStatus: Record<string, number> = {};
      let next = 0;
      const worker = async () => {
        while (next < count) {
          const i = next++;
          const status = await send(i);
          byStatus[status] = (byStatus[status] ?? 0) + 1;
          if (onProgress && (i + 1) % 10_000 === 0) onProgress(i + 1);
        }
      };
      await Promise.all(Array.from({ length: 8 }, worker));
      return byStatus;
    };
    await run(2_000); // warm-up: every kind of request once, caches filled
    const start = { rssMB: round(memory(server.pid).rssMB), tensors: await tensors(server.url) };
    const started = performance.now();
    const byStatus = await run(total, (done) =>
      log(`soak: ${done} of ${total} (RSS ${round(memory(server.pid).rssMB)} MB)`),
    );
    const seconds = (performance.now() - started) / 1000;
    const end = { rssMB: round(memory(server.pid).rssMB), tensors: await tensors(server.url) };
    return {
      requests: total,
      seconds: round(seconds),
      requestsPerSecond: Math.round(total / seconds),
      byStatus,
      start,
      end,
      rssGrowthMB: round(end.rssMB - start.rssMB),
      peakRssMB: round(memory(server.pid).peakMB),
      stderrLines: server.stderr().split('\n').filter(Boolean).length,
    };
  } finally {
    agent.destroy();
    await server.stop();
  }
}

export async function abuseFigures(runDir: string, log: (message: string) => void): Promise<Figures> {
  const fuzzCount = Number(process.env.BENCH_ABUSE_FUZZ ?? 10_000);
  const soakCount = Number(process.env.BENCH_ABUSE_SOAK ?? 100_000);
  const sets = (process.env.BENCH_ABUSE_SETS ?? 'webp30,inlimit,headerfuzz,fuzz,bombs,slow,soak').split(',');
  const started = performance.now();
  const loadStart = round(loadavg()[0], 2);
  const abuse: Figures = {};
  if (sets.includes('webp30')) {
    log('abuse: the 30-byte WebP through every route and predict');
    abuse.webp30 = await webp30(runDir);
  }
  if (sets.includes('headerfuzz')) {
    const count = Number(process.env.BENCH_ABUSE_HEADER_FUZZ ?? 100_000);
    log(`abuse: header fuzz (${count} real headers cut and mutated)`);
    abuse.headerFuzz = await headerFuzz(runDir, count, log);
  }
  if (sets.includes('inlimit')) {
    log('abuse: pictures within the limits, 64 at once (a few minutes)');
    abuse.inLimit = await inLimit(runDir, log);
  }
  if (sets.includes('fuzz')) {
    log(`abuse: fuzz (${fuzzCount} requests)`);
    abuse.fuzz = await fuzz(runDir, fuzzCount, log);
  }
  if (sets.includes('bombs')) {
    log('abuse: bombs');
    abuse.bombs = await bombs(runDir, log);
  }
  if (sets.includes('slow')) {
    log('abuse: slow clients (about a minute)');
    abuse.slow = await slowClients(runDir, log);
  }
  if (sets.includes('soak')) {
    log(`abuse: soak (${soakCount} requests)`);
    abuse.soak = await soak(runDir, soakCount, log);
  }
  // The machine is shared: the load average (1 min) as the sets started and ended goes with the figures.
  return {
    abuse: {
      ...abuse,
      cli: CLI,
      seconds: round((performance.now() - started) / 1000),
      loadAverage: { start: loadStart, end: round(loadavg()[0], 2) },
    },
  };
}

/** The one table of the abuse figures (of the sets that ran). */
export function abuseTable(figures: Figures): string[] {
  const abuse = figures.abuse as Record<string, Record<string, unknown> | undefined> | undefined;
  if (!abuse) return [];
  const { fuzz: f, bombs: b, slow: s, soak: k, webp30: w, inLimit: l, headerFuzz: h } = abuse;
  const lines = ['', 'abuse (issues #15, #24)'];
  if (w) {
    lines.push(
      `30-byte WebP: ${Object.entries(w.routes as Record<string, string>)
        .map(([route, answer]) => `${route} ${answer}`)
        .join('; ')}`,
    );
    const cli = w.predictCli as Record<string, unknown>;
    lines.push(`      predict w.webp other.png: exit ${cli.exitCode}, other.png read ${cli.otherRead}`);
  }
  if (h) {
    lines.push(
      `header fuzz: ${h.cases} cut and mutated real headers in ${h.seconds} s; 5xx ${h.fiveHundreds}; problems ${(h.problems as string[]).length}; stack lines ${h.stackLines}; stderr lines ${h.stderrLines}; server alive ${h.serverAlive}`,
    );
    lines.push(
      `      statuses ${Object.entries(h.byStatus as Record<string, number>)
        .map(([st, n]) => `${st}:${n}`)
        .join(' ')}`,
    );
  }
  if (l) {
    const baseline = l.idleServer as Record<string, unknown> | undefined;
    if (baseline)
      lines.push(
        `an idle server: /healthz p50 ${baseline.p50Ms} ms, p99 ${baseline.p99Ms} ms (machine load ${baseline.machineLoad})`,
      );
    lines.push(
      `${'at once'.padEnd(34)} ${'answers'.padEnd(40)} ${'s'.padStart(6)} ${'peak RSS MB'.padStart(11)} ${'/healthz p99 ms'.padStart(15)} ${'CPU s, 1-2 s after'.padStart(18)}`,
    );
    for (const [name, label] of [
      ['png16', '64 x 4096² 16-bit interlaced PNG'],
      ['jpegProgressive', '64 x 4000² progressive JPEG'],
      ['bmp1', '64 x 4096² 1-bit BMP'],
      ['batches', '6 batches of 38 such PNGs'],
      ['clientsGone', '64 PNGs, clients gone after 0.5 s'],
    ] as const) {
      const c = l[name] as Record<string, unknown> | undefined;
      if (!c) continue;
      const answers = Object.entries(c.statuses as Record<string, number>)
        .map(([st, count]) => `${st}:${count}`)
        .join(' ');
      lines.push(
        `${label.padEnd(34)} ${answers.padEnd(40)} ${String(c.seconds).padStart(6)} ${String(c.peakRssMB).padStart(11)} ${String((c.healthz as Record<string, unknown>).p99Ms).padStart(15)} ${String(c.cpuSecondsInTheSecondAfter1s).padStart(18)}`,
      );
    }
    const idle = l.idle as Record<string, unknown> | undefined;
    if (idle) {
      const probes = idle.probes as Record<string, unknown>;
      lines.push(
        `256 idle connections held: ${Object.entries(probes.statuses as Record<string, number>)
          .map(([answer, count]) => `${answer} x${count}`)
          .join('; ')}; p99 ${probes.p99Ms} ms; a prediction meanwhile ${idle.predictMeanwhile}`,
      );
    }
  }
  if (b) {
    const row = (
      name: string,
      claims: string,
      bytes: string,
      answer: string,
      median: unknown,
      max: unknown,
      server: unknown,
      growth: unknown,
    ) =>
      `${name.padEnd(22)} ${claims.padEnd(12)} ${bytes.padStart(9)} ${answer.padEnd(11)} ${String(median).padStart(9)} ${String(max).padStart(7)} ${String(server).padStart(10)} ${String(growth).padStart(12)}`;
    lines.push(row('bomb', 'claims', 'bytes', 'answer', 'median ms', 'max ms', 'server ms', 'peak RSS +MB'));
    for (const r of b.rows as Record<string, unknown>[])
      lines.push(
        row(
          String(r.name),
          String(r.claims),
          String(r.bytes),
          String(r.status),
          r.medianMs,
          r.maxMs,
          r.serverMedianMs ?? '',
          r.peakRssGrowthMB,
        ),
      );
    const three = b.threeAtOnce as Record<string, unknown>;
    lines.push(
      row(
        'png, three at once',
        '16000x16000',
        '',
        (three.statuses as number[]).join('/'),
        three.ms,
        '',
        '',
        three.peakRssGrowthMB,
      ),
    );
    const limit = b.atLimit4096 as Record<string, unknown>;
    lines.push(row('a PNG at the limit', '4096x4096', '', '200 (read)', limit.medianMs, '', '', limit.peakRssGrowthMB));
  }
  if (f) {
    lines.push(
      `fuzz: ${f.cases} requests in ${f.seconds} s; 5xx ${f.fiveHundreds}; problems ${(f.problems as string[]).length}; server alive ${f.serverAlive}; stderr lines ${f.stderrLines}; tensors ${f.tensorsStart} -> ${f.tensorsEnd}`,
    );
    lines.push(
      `      statuses ${Object.entries(f.byStatus as Record<string, number>)
        .map(([st, n]) => `${st}:${n}`)
        .join(' ')}`,
    );
  }
  if (s) {
    const t = s.trickled as Record<string, unknown>;
    const closed = t.closedAfterSeconds as Record<string, number>;
    lines.push(
      `slow: 20 trickled bodies answered ${(t.statuses as number[]).join('/')} and closed after ${closed.min}-${closed.max} s; a normal request meanwhile ${t.normalRequestStatus} in ${t.normalRequestMs} ms`,
    );
    const inflight = s.inFlight as Record<string, unknown>;
    const conns = s.connections as Record<string, unknown>;
    lines.push(
      `      80 in flight: ${inflight.ok} answered, ${inflight.busy503} refused 503; the next ${inflight.extraRequestStatus} (Retry-After ${inflight.retryAfter}); /readyz ${inflight.readyzMeanwhile}`,
    );
    lines.push(`      300 idle connections: ${conns.refused503} refused 503; a /healthz meanwhile ${conns.nextStatus}`);
  }
  if (k) {
    const start = k.start as Record<string, number>;
    const end = k.end as Record<string, number>;
    lines.push(
      `soak: ${k.requests} requests in ${k.seconds} s (${k.requestsPerSecond}/s); RSS ${start.rssMB} -> ${end.rssMB} MB (peak ${k.peakRssMB}); tensors ${start.tensors} -> ${end.tensors}; stderr lines ${k.stderrLines}`,
    );
    lines.push(
      `      statuses ${Object.entries(k.byStatus as Record<string, number>)
        .map(([st, n]) => `${st}:${n}`)
        .join(' ')}`,
    );
  }
  return lines;
}

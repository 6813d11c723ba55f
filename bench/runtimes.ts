/**
 * The two inference runtimes side by side, for the benchmark only (tests never assert timings):
 * `tfjs` (TensorFlow.js, wasm backend, ModelReplicas) and `onnx` (the same model converted in
 * memory and run by onnxruntime-node), for the compact and default nets.
 *
 *   batch   images/s over the 10,000 test images, through `Predictor.fromModel(...).probabilities`
 *           (batches of 256), on 1 and 2 threads: the best of 3 passes after a warm-up pass;
 *   one     milliseconds of one `predict` of one image (the median of 300, after 50 untimed);
 *   http    POST /v1/predict of a 28x28 PNG (MNIST's first test digit) at 1 and 64 connections:
 *           p50/p99 ms and requests/s, against a server built in this process (`buildApp` around
 *           a Predictor of each runtime, one thread, as `serve` makes it), listening on
 *           127.0.0.1, loaded by autocannon in a child process (so that the load generator does
 *           not share the server's event loop).
 *
 * The machine may be busy (other processes' tests): every figure is measured in `rounds` rounds
 * (default 3) that alternate which runtime goes first, and the median over the rounds is
 * reported, with the load average before and after. Weights do not change speed: the default net
 * is the fixture run's, the compact one a seeded initialisation (both serve the fixture's metadata).
 *
 * A part of `npm run bench` (`--only runtimes`), or alone:
 * `node --import tsx bench/runtimes.ts [--run RUN_DIR] [--rounds N] [--json]`.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { initBackend } from '../src/backend/index.js';
import { RUNTIMES, type RuntimeName } from '../src/backend/names.js';
import { loadMnist } from '../src/data/load.js';
import { PIXELS, type Dataset } from '../src/data/types.js';
import { buildModel } from '../src/model/architectures.js';
import { loadModel } from '../src/model/io.js';
import { readMetadata, type RunMetadata } from '../src/model/run.js';
import { Predictor } from '../src/predict/predictor.js';
import { buildApp } from '../src/serve/app.js';

type Figures = Record<string, unknown>;
type Net = 'compact' | 'default';
const THREADS = [1, 2] as const;
const CONNECTIONS = [1, 64] as const;
/** Requests per measurement at each connection count, after HTTP_WARM_UP untimed ones. */
const HTTP_REQUESTS: Record<(typeof CONNECTIONS)[number], number> = { 1: 1000, 64: 4000 };
const HTTP_WARM_UP = 200;
const ROOT = fileURLToPath(new URL('..', import.meta.url));

interface HttpLoad {
  requests: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Failed connections, timeouts and non-2xx answers. */
  errors: number;
}

export const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
export const loadAverage = () => loadavg().map((x) => +x.toFixed(2));
/** Round r's order of the runtimes: alternate which goes first. */
const orderOf = (round: number): readonly RuntimeName[] => (round % 2 === 0 ? RUNTIMES : [...RUNTIMES].reverse());

/** The nets, each with the metadata its server answers with (the fixture run's, with the net's arch). */
async function nets(runDir: string): Promise<{ net: Net; model: tf.LayersModel; metadata: RunMetadata }[]> {
  const metadata = await readMetadata(runDir);
  const compact = buildModel('compact', 1);
  return [
    { net: 'compact', model: compact, metadata: { ...metadata, arch: 'compact', params: compact.countParams() } },
    { net: 'default', model: await loadModel(runDir), metadata },
  ];
}

/** Best images/s of 3 passes over the test set, after a warm-up pass. */
async function bestImagesPerSecond(predictor: Predictor, data: Dataset): Promise<number> {
  await predictor.probabilities(data.test);
  let best = Infinity;
  for (let i = 0; i < 3; i++) {
    const start = performance.now();
    await predictor.probabilities(data.test);
    best = Math.min(best, performance.now() - start);
  }
  return Math.round((data.test.count * 1000) / best);
}

/** Median ms of one `predict` of one image. */
async function oneImageMs(predictor: Predictor, data: Dataset): Promise<number> {
  const input = predictor.preprocessPixels(data.test.images.subarray(0, PIXELS));
  for (let i = 0; i < 50; i++) await predictor.predict([input]);
  const times: number[] = [];
  for (let i = 0; i < 300; i++) {
    const start = performance.now();
    await predictor.predict([input]);
    times.push(performance.now() - start);
  }
  return +median(times).toFixed(3);
}

/**
 * autocannon in a child process: `amount` POSTs of the PNG, `connections` at a time. Its own clock
 * ticks in whole seconds, so the child times from the first request to the last answer itself.
 */
const LOAD_SCRIPT = `
const autocannon = (await import('autocannon')).default;
const o = JSON.parse(process.argv[1]);
const body = Buffer.from(o.png, 'base64');
const request = { url: o.url, method: 'POST', headers: { 'content-type': 'image/png' }, body, timeout: 10 };
if (o.warmUp) await autocannon({ ...request, connections: 1, amount: o.warmUp });
const start = performance.now();
let last = start;
const run = autocannon({ ...request, connections: o.connections, amount: o.amount });
run.on('response', () => { last = performance.now(); });
const r = await run;
process.stdout.write(JSON.stringify({ requests: r.requests.total, requestsPerSecond: Math.round(r.requests.total / ((last - start) / 1000)), p50Ms: r.latency.p50, p99Ms: r.latency.p99, errors: r.errors + r.timeouts + r.non2xx }));
`;

function load(url: string, png: Buffer, connections: number, amount: number, warmUp: number): Promise<HttpLoad> {
  return new Promise((resolve, reject) => {
    const options = JSON.stringify({
      url: `${url}/v1/predict`,
      png: png.toString('base64'),
      connections,
      amount,
      warmUp,
    });
    const child = spawn(process.execPath, ['--input-type=module', '-e', LOAD_SCRIPT, options], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.stderr.on('data', (chunk) => (err += chunk));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code === 0) resolve(JSON.parse(out) as HttpLoad);
      else reject(new Error(`autocannon exited with code ${code}: ${err.trim()}`));
    });
  });
}

/** A server around a Predictor of `runtime` (one thread, as `serve` makes it), warmed, on 127.0.0.1. */
async function startServer(model: tf.LayersModel, metadata: RunMetadata, runDir: string, runtime: RuntimeName) {
  const predictor = await Predictor.fromModel(model, { runtime, threads: 1, dir: runDir, metadata });
  if (predictor.runtime !== runtime) throw new Error(`asked for ${runtime}, got ${predictor.runtime}`);
  await predictor.predict([predictor.preprocessPixels(new Uint8Array(PIXELS))]);
  const app = await buildApp({ predictor });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    url,
    async close() {
      await app.close();
      await predictor.close();
    },
  };
}

async function runtimeFigures(
  runDir: string,
  data: Dataset,
  log: (message: string) => void,
  rounds = 3,
): Promise<Figures> {
  const loadBefore = loadAverage();
  const started = performance.now();
  const png = await sharp(Buffer.from(data.test.images.subarray(0, PIXELS)), {
    raw: { width: 28, height: 28, channels: 1 },
  })
    .png()
    .toBuffer();
  const batch: Figures[] = [];
  const http: Figures[] = [];
  for (const { net, model, metadata } of await nets(runDir)) {
    for (const threads of THREADS) {
      log(`runtimes: ${net} net, ${threads} thread(s), batch inference, ${rounds} rounds`);
      const predictors = Object.fromEntries(
        await Promise.all(
          RUNTIMES.map(async (runtime) => [runtime, await Predictor.fromModel(model, { runtime, threads })] as const),
        ),
      ) as Record<RuntimeName, Predictor>;
      const rates: Record<RuntimeName, number[]> = { tfjs: [], onnx: [] };
      const latencies: Record<RuntimeName, number[]> = { tfjs: [], onnx: [] };
      try {
        for (const runtime of RUNTIMES)
          if (predictors[runtime].runtime !== runtime)
            throw new Error(`asked for ${runtime}, got ${predictors[runtime].runtime}`);
        for (let round = 0; round < rounds; round++) {
          for (const runtime of orderOf(round)) {
            rates[runtime].push(await bestImagesPerSecond(predictors[runtime], data));
            if (threads === 1) latencies[runtime].push(await oneImageMs(predictors[runtime], data));
          }
        }
      } finally {
        for (const predictor of Object.values(predictors)) await predictor.close();
      }
      const row: Figures = {
        net,
        threads,
        tfjs: median(rates.tfjs),
        onnx: median(rates.onnx),
        speedup: +(median(rates.onnx) / median(rates.tfjs)).toFixed(1),
        rounds: rates,
      };
      if (threads === 1)
        Object.assign(row, { oneImageMs: { tfjs: median(latencies.tfjs), onnx: median(latencies.onnx) } });
      batch.push(row);
    }
    log(`runtimes: ${net} net, HTTP, ${rounds} rounds`);
    const servers = Object.fromEntries(
      await Promise.all(
        RUNTIMES.map(async (runtime) => [runtime, await startServer(model, metadata, runDir, runtime)] as const),
      ),
    ) as Record<RuntimeName, Awaited<ReturnType<typeof startServer>>>;
    try {
      const loads: Record<string, Record<RuntimeName, HttpLoad[]>> = {};
      for (const c of CONNECTIONS) loads[c] = { tfjs: [], onnx: [] };
      for (let round = 0; round < rounds; round++) {
        for (const connections of CONNECTIONS) {
          for (const runtime of orderOf(round))
            loads[connections][runtime].push(
              await load(servers[runtime].url, png, connections, HTTP_REQUESTS[connections], HTTP_WARM_UP),
            );
        }
      }
      for (const connections of CONNECTIONS) {
        const of = (runtime: RuntimeName) => {
          const l = loads[connections][runtime];
          return {
            p50Ms: median(l.map((x) => x.p50Ms)),
            p99Ms: median(l.map((x) => x.p99Ms)),
            requestsPerSecond: median(l.map((x) => x.requestsPerSecond)),
            errors: l.reduce((sum, x) => sum + x.errors, 0),
            requests: l.reduce((sum, x) => sum + x.requests, 0),
          };
        };
        http.push({ net, connections, tfjs: of('tfjs'), onnx: of('onnx') });
      }
    } finally {
      for (const server of Object.values(servers)) await server.close();
    }
    model.dispose();
  }
  return {
    runtimes: {
      machine: {
        cpu: cpus()[0]?.model ?? 'unknown',
        cores: cpus().length,
        node: process.version,
        loadBefore,
        loadAfter: loadAverage(),
      },
      rounds,
      seconds: +((performance.now() - started) / 1000).toFixed(1),
      batch,
      http,
    },
  };
}

/** The figures as Markdown tables (README "Runtimes"). */
function runtimesTable(figures: Figures): string[] {
  const r = figures.runtimes as
    | {
        machine: { cpu: string; cores: number; loadBefore: number[]; loadAfter: number[] };
        rounds: number;
        batch: Figures[];
        http: Figures[];
      }
    | undefined;
  if (!r) return [];
  const n = (v: unknown) => (typeof v === 'number' ? v.toLocaleString('en-US') : String(v));
  const lines = [
    '',
    `runtimes: ${r.machine.cpu}, ${r.machine.cores} cores; load average ${r.machine.loadBefore.join(' ')} before, ${r.machine.loadAfter.join(' ')} after; medians of ${r.rounds} interleaved rounds`,
    '| net | threads | tfjs images/s | onnx images/s | onnx / tfjs | one image, tfjs / onnx |',
    '|---|---|---|---|---|---|',
  ];
  for (const b of r.batch) {
    const one = b.oneImageMs as { tfjs: number; onnx: number } | undefined;
    lines.push(
      `| ${b.net} | ${b.threads} | ${n(b.tfjs)} | ${n(b.onnx)} | ${b.speedup}x | ${one ? `${one.tfjs} / ${one.onnx} ms` : ''} |`,
    );
  }
  lines.push(
    '',
    '| net | connections | tfjs p50 / p99 ms | onnx p50 / p99 ms | tfjs requests/s | onnx requests/s | errors |',
    '|---|---|---|---|---|---|---|',
  );
  for (const h of r.http) {
    const [t, o] = [h.tfjs, h.onnx] as { p50Ms: number; p99Ms: number; requestsPerSecond: number; errors: number }[];
    lines.push(
      `| ${h.net} | ${h.connections} | ${t.p50Ms} / ${t.p99Ms} | ${o.p50Ms} / ${o.p99Ms} | ${n(t.requestsPerSecond)} | ${n(o.requestsPerSecond)} | ${t.errors + o.errors} |`,
    );
  }
  return lines;
}

// Alone: node --import tsx bench/runtimes.ts [--run RUN_DIR] [--rounds N] [--json]
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({
    options: { run: { type: 'string' }, rounds: { type: 'string', default: '3' }, json: { type: 'boolean' } },
  });
  const log = (message: string) => process.stderr.write(`bench: ${message}\n`);
  await initBackend('wasm');
  const data = await loadMnist();
  const root = await mkdtemp(join(tmpdir(), 'mnist-cnn-runtimes-'));
  try {
    let runDir = values.run;
    if (!runDir) {
      log('training a small fixture model (smoke preset)');
      const { resolveConfig } = await import('../src/train/config-file.js');
      const { train } = await import('../src/train/trainer.js');
      const result = await train({
        config: resolveConfig({ preset: 'smoke' }),
        outDir: join(root, 'fixture'),
        data,
        updateLatest: false,
      });
      result.model.dispose();
      runDir = result.dir;
    }
    const figures = await runtimeFigures(runDir, data, log, Number(values.rounds));
    console.log(values.json ? JSON.stringify(figures, null, 2) : runtimesTable(figures).join('\n'));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

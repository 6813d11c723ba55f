/**
 * `npm run bench [-- --json] [--only NAME[,NAME]]`: the project's speed and accuracy figures,
 * measured on this machine. Parts:
 *   train        training images/s of the default recipe (steady state, its threads, wasm): by the wall
 *                clock, and by the busiest training thread's CPU time (what free cores would give)
 *   infer        batch inference images/s over the 10,000 test images, tfjs and onnx side by side (--runtime: one)
 *   timeTo99     seconds from process start to 99.0% test accuracy (child process; also peak RSS)
 *   start        the default `npm start` recipe: test accuracy and seconds (child process; minutes)
 *   http         POST /v1/predict of one PNG to `mnist-cnn serve` processes, tfjs and onnx, micro-batching off
 *                and on, 1 and 64 connections: p50/p99 ms, requests/s (autocannon)
 *   scale        the same through HAProxy (deploy/haproxy/haproxy.cfg) in front of 1, 2 and 3 serve processes:
 *                requests/s, p50/p99 ms (needs the haproxy binary; bench/scale.ts)
 *   coldPredict  a whole `mnist-cnn predict` process on one PNG, seconds: the shipped model (no run given) and a run folder
 *   best         the best recipe, fixed in advance: three `--preset best` runs (seeds 1, 2, 3), their
 *                `ensemble`, `evaluate --tta`; test accuracy and seconds (about 35 minutes: only
 *                with --only best)
 *   abuse        the server under abuse (bench/abuse.ts): a fuzz of every route, decompression
 *                bombs, slow clients, a 100,000-request soak (about a quarter of an hour: only with --only abuse)
 *   trust        answers to trust (bench/trust.ts) of a trained run (--run, default runs/latest): its temperature,
 *                test ECE/NLL/Brier before and after it, accuracy (only with --only trust)
 *   browserTrain the page's Train panel in Chromium (bench/browser-train.ts): time to 99.0% in a tab, its
 *                training images/s against Node's (interleaved), input delay while it trains (a few
 *                minutes: only with --only browserTrain; bench/results/browser-train.json keeps one run)
 *   finetune     `mnist-cnn finetune` of the shipped model on 100 and 500 corrections from a population of
 *                writers made here (bench/finetune.ts): new writers before and after, MNIST test, non-digits,
 *                ECE, wall and CPU seconds with the load (about a quarter of an hour: only with --only finetune)
 * Timings live here, never in tests.
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Command } from 'commander';
import { initBackend } from '../src/backend/index.js';
import { loadMnist } from '../src/data/load.js';
import { DEFAULT_RUNTIME, RUNTIMES, type RuntimeName } from '../src/backend/names.js';
import type { Dataset } from '../src/data/types.js';
import type { HttpLoadResult } from './http-load.js';
import { buildModel } from '../src/model/architectures.js';
import { DEFAULT_INFER_BATCH } from '../src/predict/set-inference.js';
import { Predictor } from '../src/predict/predictor.js';
import { loadModel } from '../src/model/io.js';
import { resolveConfig } from '../src/train/config-file.js';
import type { TrainConfig } from '../src/train/config.js';
import { train } from '../src/train/trainer.js';
import { libraryVersions } from '../src/util/version.js';
import { cpuPerStep, threadCpuMs } from './thread-cpu.js';

const PARTS = [
  'train',
  'infer',
  'timeTo99',
  'start',
  'http',
  'scale',
  'coldPredict',
  'best',
  'abuse',
  'trust',
  'browserTrain',
  'finetune',
] as const;
/** Parts run when --only is not given (`best` takes half an hour, `abuse` a quarter of one). */
const DEFAULT_PARTS = PARTS.filter(
  (part) => part !== 'best' && part !== 'abuse' && part !== 'trust' && part !== 'browserTrain' && part !== 'finetune',
);
type Part = (typeof PARTS)[number];
type Figures = Record<string, unknown>;

const program = new Command('bench')
  .option('--json', 'print one JSON object')
  .option('--only <parts>', `comma-separated parts: ${PARTS.join(', ')}`)
  .option('--run <dir>', 'the trained run the `trust` part measures (default runs/latest)')
  .option(
    '--runtime <names>',
    `comma-separated runtimes the infer and http parts measure side by side (default: ${RUNTIMES.join(',')})`,
  )
  .parse();
const opts = program.opts<{ json?: boolean; only?: string; run?: string; runtime?: string }>();
const only = opts.only ? opts.only.split(',').map((s) => s.trim()) : [...DEFAULT_PARTS];
for (const part of only)
  if (!(PARTS as readonly string[]).includes(part))
    program.error(`unknown part '${part}' (parts: ${PARTS.join(', ')})`);
const wanted = (part: Part) => only.includes(part);
const runtimes = (opts.runtime ? opts.runtime.split(',').map((s) => s.trim()) : [...RUNTIMES]) as RuntimeName[];
for (const runtime of runtimes)
  if (!(RUNTIMES as readonly string[]).includes(runtime))
    program.error(`unknown runtime '${runtime}' (runtimes: ${RUNTIMES.join(', ')})`);
/** The runtime of the headline figures: the default one, when measured. */
const mainRuntime: RuntimeName = runtimes.includes(DEFAULT_RUNTIME) ? DEFAULT_RUNTIME : runtimes[0];
const log = (message: string) => process.stderr.write(`bench: ${message}\n`);

/** A small trained run folder for the inference, HTTP and cold-predict parts. */
async function fixtureRun(data: Dataset, root: string): Promise<string> {
  log('training a small fixture model (smoke preset)');
  const result = await train({
    config: resolveConfig({ preset: 'smoke' }),
    outDir: join(root, 'fixture'),
    data,
    updateLatest: false,
  });
  result.model.dispose();
  return result.dir;
}

let trainSpeedRuns = 0;

/** Steady-state training images/s of a recipe (default: the defaults, one epoch): steps 5 to 105 of a run (a few seconds: shorter spans moved with every hiccup of a shared machine). */
async function trainImagesPerSecond(
  data: Dataset,
  root: string,
  config = resolveConfig({ flags: { epochs: 1 } }),
): Promise<Figures> {
  const warmup = 5;
  const measured = 100;
  let start = 0;
  let seconds = 0;
  let cpuBefore = new Map<string, number>();
  let cpu = {} as ReturnType<typeof cpuPerStep>;
  await train({
    config,
    outDir: join(root, `train-speed-${++trainSpeedRuns}`),
    data,
    updateLatest: false,
    afterStep({ step }) {
      if (step === warmup) {
        start = performance.now();
        cpuBefore = threadCpuMs();
      }
      if (step === warmup + measured) {
        seconds = (performance.now() - start) / 1000;
        cpu = cpuPerStep(cpuBefore, measured, config.threads, config.batchSize);
        return 'stop';
      }
    },
  });
  // On a shared machine the wall clock measures the other jobs too; the busiest training thread's
  // CPU per step is what a step needs of free cores (trainImagesPerSecondByCpu).
  return {
    trainImagesPerSecond: Math.round((measured * config.batchSize) / seconds),
    trainStepMs: +((seconds * 1000) / measured).toFixed(1),
    trainBatchSize: config.batchSize,
    trainThreads: config.threads,
    trainImagesPerSecondByCpu: cpu.estimatedImagesPerSecondOnFreeCores,
    trainCpuMsPerStepByThread: cpu.cpuMsPerStepByThread,
  };
}

/** One timed pass over the 10,000 test images, after a warm-up pass; images/s. */
async function imagesPerSecond(data: Dataset, predict: () => unknown): Promise<number> {
  await predict();
  const start = performance.now();
  await predict();
  return Math.round(data.test.count / ((performance.now() - start) / 1000));
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : Math.round((sorted[mid - 1] + sorted[mid]) / 2);
};

/**
 * Batch inference over the test set on both runtimes side by side: the default model (what
 * `npm start` trains) and the compact one, on one thread and on two (tfjs: ModelReplicas, each
 * batch split between two wasm backends; onnx: two ONNX Runtime intra-op threads). The machine may
 * be shared: each figure is the best of 5 rounds of one pass each, the runtimes alternating which
 * goes first, all their Predictors loaded at once.
 */
async function inferImagesPerSecond(data: Dataset, runDir: string): Promise<Figures> {
  const rounds = 5;
  const models = { default: await loadModel(runDir), compact: buildModel('compact', 1) };
  const figures: Record<string, Record<string, Record<RuntimeName, number>>> = {};
  const spread: Record<string, Record<RuntimeName, number[]>> = {};
  for (const [arch, model] of Object.entries(models)) {
    figures[arch] = {};
    for (const threads of [1, 2]) {
      log(`infer: ${arch} net, ${threads} thread(s), ${runtimes.join(' and ')}, ${rounds} rounds`);
      const predictors = await Promise.all(runtimes.map((runtime) => Predictor.fromModel(model, { threads, runtime })));
      const rates = Object.fromEntries(runtimes.map((runtime) => [runtime, [] as number[]])) as Record<
        RuntimeName,
        number[]
      >;
      try {
        predictors.forEach((predictor, i) => {
          if (predictor.runtime !== runtimes[i]) throw new Error(`asked for ${runtimes[i]}, got ${predictor.runtime}`);
        });
        for (let round = 0; round < rounds; round++) {
          const order = round % 2 ? [...predictors].reverse() : predictors;
          for (const predictor of order)
            rates[predictor.runtime].push(await imagesPerSecond(data, () => predictor.probabilities(data.test)));
        }
      } finally {
        for (const predictor of predictors) await predictor.close();
      }
      figures[arch][threads === 1 ? 'oneThread' : 'twoThreads'] = Object.fromEntries(
        runtimes.map((runtime) => [runtime, Math.max(...rates[runtime])]),
      ) as Record<RuntimeName, number>;
      spread[`${arch}/${threads}`] = Object.fromEntries(
        runtimes.map((runtime) => [runtime, [median(rates[runtime]), Math.min(...rates[runtime])]]),
      ) as Record<RuntimeName, number[]>;
    }
    model.dispose();
  }
  const fastest = (arch: string) => Math.max(...Object.values(figures[arch]).flatMap((r) => Object.values(r)));
  // The headline is the fastest runtime on the fastest model we ship (compact: 99.1% after the time-to-99% recipe).
  return {
    inferImagesPerSecond: fastest('compact'),
    inferDefaultImagesPerSecond: fastest('default'),
    inferBatchSize: DEFAULT_INFER_BATCH,
    inferByModel: figures,
    inferMedianAndWorst: spread,
    inferRounds: rounds,
  };
}

/** Run a node child process to its end; its output and how long it took. */
function runChild(args: string[], what: string): { stdout: string; seconds: number } {
  const start = performance.now();
  const child = spawnSync(process.execPath, args, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 * 1024 * 1024,
  });
  const seconds = (performance.now() - start) / 1000;
  if (child.status !== 0) throw new Error(`${what} failed with exit code ${child.status}`);
  return { stdout: child.stdout, seconds };
}

function timeTo99(): Figures {
  log('time to 99.0% (fixed recipe: preset fast; test accuracy checked every quarter epoch)');
  const lines = runChild(['--import', 'tsx', 'bench/time-to-99.ts'], 'time-to-99').stdout.trim().split('\n');
  const json = JSON.parse(lines[lines.length - 1]);
  return {
    timeTo99Seconds: json.timeTo99Seconds,
    timeTo99CapSeconds: json.capSeconds,
    timeTo99Epochs: json.epochs,
    timeTo99Checks: json.checks,
    peakRssMB: json.peakRssMB,
  };
}

/**
 * BENCH_BEST_FLAGS (e.g. "--epochs 1 --limit 3000") shortens the members, to try the part out;
 * BENCH_BEST_MEMBERS (default 3) sets how many there are.
 */
async function bestRecipe(root: string): Promise<Figures> {
  const count = Number(process.env.BENCH_BEST_MEMBERS ?? 3);
  if (!Number.isInteger(count) || count < 1)
    throw new Error(`BENCH_BEST_MEMBERS must be a whole number >= 1, got ${count}`);
  log(
    `best recipe: ${count} --preset best runs, their ensemble, evaluated with test-time augmentation: about ten minutes a member`,
  );
  const extra = (process.env.BENCH_BEST_FLAGS ?? '').split(' ').filter(Boolean);
  const start = performance.now();
  const members = Array.from({ length: count }, (_, i) => join(root, `best-${i + 1}`));
  members.forEach((out, i) =>
    runChild(
      ['bin/mnist-cnn.js', 'train', '--preset', 'best', '--seed', String(i + 1), '--out', out, '--quiet', ...extra],
      `best run ${i + 1}`,
    ),
  );
  const ensemble = join(root, 'best-ensemble');
  runChild(['bin/mnist-cnn.js', 'ensemble', ...members, '--out', ensemble], 'ensemble');
  runChild(['bin/mnist-cnn.js', 'evaluate', ensemble, '--tta', '--json'], 'evaluate --tta');
  const metrics = JSON.parse(readFileSync(join(ensemble, 'metrics.json'), 'utf8'));
  return {
    bestAccuracy: metrics.accuracy,
    bestSeconds: +((performance.now() - start) / 1000).toFixed(1),
    bestRecipe: { members: count, preset: 'best', tta: true, extraFlags: extra },
  };
}

/**
 * `npm start` as a user runs it, timed as a whole and by phase from when its per-epoch lines
 * arrive: before the first step (data, the pictured digits and the non-digit pictures), the
 * epochs' training, their validation and checkpoints, and after the last epoch (the answer
 * rules' fits, the test evaluation with its trust figures, the report).
 */
async function startRecipe(root: string): Promise<Figures> {
  log('npm start recipe (default preset, full data): this takes minutes');
  const out = join(root, 'start');
  const start = performance.now();
  const child = spawn(process.execPath, ['bin/mnist-cnn.js', 'start', '--out', out, '--json'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const epochs: { seconds: number; at: number }[] = [];
  for await (const line of createInterface({ input: child.stdout })) {
    const record = JSON.parse(line) as { epoch?: number; seconds?: number };
    if (record.epoch !== undefined && record.seconds !== undefined)
      epochs.push({ seconds: record.seconds, at: (performance.now() - start) / 1000 });
  }
  const code = child.exitCode ?? (await once(child, 'exit'))[0];
  if (code !== 0) throw new Error(`npm start failed with exit code ${code}`);
  const seconds = (performance.now() - start) / 1000;
  const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
  const training = epochs.reduce((sum, e) => sum + e.seconds, 0);
  const first = epochs[0];
  const last = epochs[epochs.length - 1];
  const round = (x: number) => +x.toFixed(1);
  return {
    startAccuracy: metrics.accuracy,
    startSeconds: round(seconds),
    startPhases: first && {
      beforeTrainingSeconds: round(first.at - first.seconds),
      trainingSeconds: round(training),
      validationAndCheckpointsSeconds: round(last.at - (first.at - first.seconds) - training),
      afterTrainingSeconds: round(seconds - last.at),
      epochs: epochs.length,
    },
  };
}

/**
 * POST /v1/predict to `mnist-cnn serve` processes, on each runtime: a 28x28 PNG (an MNIST test
 * digit) at 1 and 64 connections, micro-batching off (`--batch-window off`) and on (the default
 * window), and a 280x280 PNG (the page's canvas, where preprocessing costs most) at one
 * connection. Throughput of 280x280 PNGs over 8 connections with 1 and 2 workers, on the default
 * runtime. p50/p99 ms as autocannon saw them; requests/s from the first request to the last answer.
 */
async function httpFigures(runDir: string, data: Dataset): Promise<Figures> {
  const { runHttpLoads } = await import('./http-load.js');
  const sharp = (await import('sharp')).default;
  const small = await sharp(Buffer.from(data.test.images.subarray(0, 784)), {
    raw: { width: 28, height: 28, channels: 1 },
  })
    .png()
    .toBuffer();
  const canvas = await sharp(
    Buffer.from(
      '<svg xmlns="http://www.w3.org/2000/svg" width="280" height="280"><rect width="280" height="280" fill="black"/><path d="M70 56 H210 L126 238" stroke="white" stroke-width="20" fill="none" stroke-linecap="round" stroke-linejoin="round"/></svg>',
    ),
  )
    .png()
    .toBuffer();
  const byRuntime: Record<string, Record<string, unknown>> = {};
  for (const runtime of runtimes) {
    for (const batching of ['off', 'on'] as const) {
      log(
        `HTTP: ${runtime}, micro-batching ${batching}: 28x28 PNG at 1 and 64 connections${batching === 'on' ? ', 280x280 PNG at 1' : ''}`,
      );
      const loads = [
        { png: small, connections: 1, requests: 2000 },
        { png: small, connections: 64, requests: 20_000 },
        ...(batching === 'on' ? [{ png: canvas, connections: 1, requests: 500 }] : []),
      ];
      const [one, many, canvasOne] = await runHttpLoads(
        { runDir, serveArgs: ['--runtime', runtime, ...(batching === 'off' ? ['--batch-window', 'off'] : [])] },
        loads,
      );
      byRuntime[runtime] = {
        ...byRuntime[runtime],
        [`batching${batching === 'on' ? 'On' : 'Off'}`]: {
          c1: one,
          c64: many,
          ...(canvasOne ? { canvasC1: canvasOne } : {}),
        },
      };
    }
  }
  log(`HTTP: ${mainRuntime}, 280x280 PNG, 8 connections, 1 and 2 workers`);
  const [one] = await runHttpLoads({ runDir, workers: 1, serveArgs: ['--runtime', mainRuntime] }, [
    { png: canvas, connections: 8, requests: 2000 },
  ]);
  const [two] = await runHttpLoads({ runDir, workers: 2, serveArgs: ['--runtime', mainRuntime] }, [
    { png: canvas, connections: 8, requests: 2000 },
  ]);
  type Loads = { c1: HttpLoadResult; c64: HttpLoadResult; canvasC1: HttpLoadResult };
  const headline = (byRuntime[mainRuntime] as { batchingOn: Loads }).batchingOn;
  const errors = Object.values(byRuntime)
    .flatMap((r) => Object.values(r as Record<string, Record<string, HttpLoadResult>>).flatMap((l) => Object.values(l)))
    .reduce((sum, l) => sum + l.errors, one.errors + two.errors);
  return {
    httpRuntime: mainRuntime,
    httpP50Ms: headline.c1.p50Ms,
    httpP99Ms: headline.c1.p99Ms,
    http64RequestsPerSecond: headline.c64.requestsPerSecond,
    http64P50Ms: headline.c64.p50Ms,
    http64P99Ms: headline.c64.p99Ms,
    httpRequestsPerSecond: two.requestsPerSecond,
    httpErrors: errors,
    httpCanvasP50Ms: headline.canvasC1.p50Ms,
    httpCanvasP99Ms: headline.canvasC1.p99Ms,
    httpByRuntime: byRuntime,
    httpLoad: { oneWorker: one, twoWorkers: two },
  };
}

/**
 * A whole `mnist-cnn predict` process on one PNG, best of 5: with no run given (the model shipped
 * in the package, quick-started from its ONNX file without TensorFlow.js) and with a trained run
 * folder (TensorFlow.js loads the model, converted to ONNX in memory). Wall and CPU seconds.
 */
async function coldPredict(runDir: string, root: string): Promise<Figures> {
  const sharp = (await import('sharp')).default;
  const png = join(root, 'seven.png');
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="120" height="120"><rect width="120" height="120" fill="white"/><text x="60" y="98" font-size="100" font-family="DejaVu Sans" text-anchor="middle">7</text></svg>`;
  await sharp(Buffer.from(svg)).png().toFile(png);
  const time = (args: string[]): { wall: number; cpu: number } | string => {
    const walls: number[] = [];
    const cpus: number[] = [];
    for (let i = 0; i < 5; i++) {
      const start = performance.now();
      // `time` of the shell is not portable; the child reports its own CPU time on stderr's last line.
      const child = spawnSync(
        process.execPath,
        [
          '--import',
          'data:text/javascript,process.on("exit",()=>{const u=process.cpuUsage();process.stderr.write("\\ncpu "+(u.user+u.system)/1e6)})',
          'bin/mnist-cnn.js',
          'predict',
          ...args,
          png,
          '--format',
          'json',
        ],
        { encoding: 'utf8' },
      );
      walls.push((performance.now() - start) / 1000);
      if (child.status !== 0) return `predict failed: ${child.stderr.trim().split('\n')[0]}`;
      cpus.push(Number(/cpu ([\d.]+)\s*$/.exec(child.stderr)?.[1]));
    }
    return { wall: +Math.min(...walls).toFixed(3), cpu: +Math.min(...cpus).toFixed(3) };
  };
  const shipped = time([]);
  const run = time([runDir]);
  if (typeof shipped === 'string' || typeof run === 'string')
    return { coldPredictSeconds: null, coldPredictNote: typeof shipped === 'string' ? shipped : run };
  return {
    coldPredictSeconds: shipped.wall,
    coldPredictCpuSeconds: shipped.cpu,
    coldPredictRunSeconds: run.wall,
    coldPredictRunCpuSeconds: run.cpu,
  };
}

/** The infer and http parts' runtimes side by side, as Markdown tables (README "Runtimes"). */
function runtimeTables(figures: Figures): string[] {
  const lines: string[] = [];
  const n = (v: number) => v.toLocaleString('en-US');
  const infer = figures.inferByModel as Record<string, Record<string, Record<RuntimeName, number>>> | undefined;
  if (infer) {
    const both = runtimes.length === 2;
    lines.push(
      '',
      `| net | threads | ${runtimes.map((r) => `${r} images/s`).join(' | ')} |${both ? ' onnx / tfjs |' : ''}`,
      `|---|---|${runtimes.map(() => '---|').join('')}${both ? '---|' : ''}`,
    );
    for (const [net, byThreads] of Object.entries(infer)) {
      for (const [threads, r] of Object.entries(byThreads))
        lines.push(
          `| ${net} | ${threads === 'oneThread' ? 1 : 2} | ${runtimes.map((runtime) => n(r[runtime])).join(' | ')} |${both ? ` ${(r.onnx / r.tfjs).toFixed(1)}x |` : ''}`,
        );
    }
  }
  const http = figures.httpByRuntime as Record<string, Record<string, Record<string, HttpLoadResult>>> | undefined;
  if (http) {
    lines.push(
      '',
      '| runtime | micro-batching | 1 conn. p50 / p99 ms | 1 conn. requests/s | 64 conn. p50 / p99 ms | 64 conn. requests/s | errors |',
      '|---|---|---|---|---|---|---|',
    );
    for (const [runtime, byBatching] of Object.entries(http)) {
      for (const [batching, l] of Object.entries(byBatching)) {
        const errors = Object.values(l).reduce((sum, x) => sum + x.errors, 0);
        lines.push(
          `| ${runtime} | ${batching === 'batchingOn' ? 'on' : 'off'} | ${l.c1.p50Ms} / ${l.c1.p99Ms} | ${n(l.c1.requestsPerSecond)} | ${l.c64.p50Ms} / ${l.c64.p99Ms} | ${n(l.c64.requestsPerSecond)} | ${errors} |`,
        );
      }
    }
  }
  return lines;
}

const root = await mkdtemp(join(tmpdir(), 'mnist-cnn-bench-'));
const gitCommit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout?.trim() || null;
const figures: Figures = {
  date: new Date().toISOString(),
  commit: gitCommit,
  // The load average when the bench began: figures taken on a busy machine are worth less than a quiet one's.
  machine: {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    node: process.version,
    loadAverage: loadavg().map((x) => +x.toFixed(2)),
  },
  versions: libraryVersions(),
  backend: 'wasm',
};
try {
  await initBackend('wasm');
  const data = await loadMnist();
  const needsFixture = wanted('infer') || wanted('http') || wanted('scale') || wanted('coldPredict') || wanted('abuse');
  const runDir = needsFixture ? await fixtureRun(data, root) : '';
  if (wanted('train')) Object.assign(figures, await trainImagesPerSecond(data, root));
  if (wanted('infer')) Object.assign(figures, await inferImagesPerSecond(data, runDir));
  if (wanted('http')) Object.assign(figures, await httpFigures(runDir, data));
  if (wanted('scale')) Object.assign(figures, await (await import('./scale.js')).scaleFigures(runDir, data));
  if (wanted('coldPredict')) Object.assign(figures, await coldPredict(runDir, root));
  if (wanted('timeTo99')) Object.assign(figures, timeTo99());
  if (wanted('start')) Object.assign(figures, await startRecipe(root));
  if (wanted('best')) Object.assign(figures, await bestRecipe(root));
  if (wanted('abuse')) Object.assign(figures, await (await import('./abuse.js')).abuseFigures(runDir, log));
  if (wanted('trust')) Object.assign(figures, await (await import('./trust.js')).trustFigures(opts.run));
  if (wanted('browserTrain')) {
    const nodeImagesPerSecond = async (config: TrainConfig) =>
      (await trainImagesPerSecond(data, root, config)).trainImagesPerSecond as number;
    Object.assign(figures, await (await import('./browser-train.js')).browserTrainFigures(root, nodeImagesPerSecond));
  }
  if (wanted('finetune')) Object.assign(figures, await (await import('./finetune.js')).finetuneFigures());
} finally {
  await rm(root, { recursive: true, force: true });
}

if (opts.json) {
  console.log(JSON.stringify(figures, null, 2));
} else {
  const rows: [string, unknown, string][] = [
    ['time to 99.0% test accuracy', figures.timeTo99Seconds, 's (goal ≤ 30)'],
    ['npm start test accuracy', figures.startAccuracy, '(goal ≥ 0.995)'],
    ['npm start time', figures.startSeconds, 's (goal ≤ 180)'],
    ['best recipe test accuracy', figures.bestAccuracy, '(goal ≥ 0.9975)'],
    ['best recipe time', figures.bestSeconds, 's'],
    ['training', figures.trainImagesPerSecond, 'images/s'],
    [
      'training, by CPU time',
      figures.trainImagesPerSecondByCpu,
      'images/s on free cores, busiest thread (goal ≥ 2,000)',
    ],
    [
      'batch inference, compact net',
      figures.inferImagesPerSecond,
      'images/s, fastest runtime and threads (goal ≥ 50,000)',
    ],
    [
      'batch inference, default net',
      figures.inferDefaultImagesPerSecond,
      'images/s, fastest runtime and threads (goal ≥ 20,000)',
    ],
    ['HTTP 28x28 PNG p50', figures.httpP50Ms, `ms, 1 connection, ${figures.httpRuntime} (goal ≤ 5)`],
    ['HTTP 28x28 PNG p99', figures.httpP99Ms, 'ms, 1 connection (goal ≤ 20)'],
    ['HTTP 28x28 PNG requests/s', figures.http64RequestsPerSecond, '64 connections, one process (goal ≥ 5,000)'],
    ['HTTP 28x28 PNG p99, 64 conn.', figures.http64P99Ms, 'ms (goal ≤ 20)'],
    ['HTTP 280x280 PNG p50', figures.httpCanvasP50Ms, 'ms'],
    ['HTTP 280x280 PNG p99', figures.httpCanvasP99Ms, 'ms'],
    ['HTTP requests/s (2 workers)', figures.httpRequestsPerSecond, '280x280 PNGs, 8 connections'],
    ['HAProxy, 1 server', figures.scale1RequestsPerSecond, 'requests/s, 28x28 PNGs, 16 connections'],
    ['HAProxy, 2 servers', figures.scale2RequestsPerSecond, 'requests/s (2 cores: see scale.machine)'],
    ['HAProxy, 3 servers', figures.scale3RequestsPerSecond, 'requests/s'],
    ['cold predict, one PNG', figures.coldPredictSeconds, 's (goal ≤ 1.5)'],
    ['peak RSS while training', figures.peakRssMB, 'MB (goal ≤ 1,536)'],
  ];
  const machine = figures.machine as { cpu: string; cores: number };
  console.log(`mnist-cnn benchmark, ${figures.date}, ${machine.cpu}, ${machine.cores} cores`);
  for (const [name, value, unit] of rows)
    if (value !== undefined) console.log(`${name.padEnd(30)} ${String(value ?? '-').padStart(10)} ${unit}`);
  for (const line of runtimeTables(figures)) console.log(line);
  if (figures.abuse) for (const line of (await import('./abuse.js')).abuseTable(figures)) console.log(line);
  if (figures.trust)
    for (const line of (await import('./trust.js')).trustLines(figures.trust as import('./trust.js').TrustFigures))
      console.log(line);
  if (figures.browserTrain)
    console.log(
      `\n${(await import('./browser-train-table.js')).browserTrainTable(figures as { date: string; browserTrain: import('./browser-train-table.js').BrowserTrainFigures })}`,
    );
  if (figures.finetune)
    for (const line of (await import('./finetune-table.js')).finetuneLines(
      figures.finetune as import('./finetune-table.js').FinetuneFigures,
    ))
      console.log(line);
}

/**
 * `node --import tsx bench/onnx.ts [--json] [--rounds N] [--run RUN_DIR]`: batch inference over
 * the 10,000 MNIST test images: TensorFlow.js (wasm backend, `model.predict` in batches of 256,
 * one core: tfjs runs one wasm backend on one core in Node) against the same model exported to
 * ONNX (`onnx`) and its int8 copy (`onnx-int8`, model/onnx-quantize.ts), both run by
 * onnxruntime-node on 1 and 2 intra-op threads (batches of 256); also ONNX Runtime's median
 * latency for one image, one thread, and the size of each ONNX file.
 *
 * Without --run: the `compact` and `default` nets with a seeded initialisation (speed does not
 * depend on the weights' values), the int8 ranges calibrated on the first 2,000 training images.
 * With --run: that run's network, its int8 copy made as `export --int8` makes it (calibrated on
 * the run's validation split).
 *
 * The machine may be shared: the ONNX cases are timed in `--rounds` rounds (default 5) that
 * alternate which case goes first, one timed pass per case per round after a warm-up pass; each
 * figure is the median over the rounds (the best one is in the JSON too), with the load average
 * before and after. TensorFlow.js is the best of 3 passes.
 */
import { cpus } from 'node:os';
import { pathToFileURL } from 'node:url';
import { Command } from 'commander';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend/index.js';
import { loadMnist } from '../src/data/load.js';
import { scalePixels } from '../src/data/model-input.js';
import { buildModel } from '../src/model/architectures.js';
import { layersModelToOnnx } from '../src/model/onnx.js';
import { quantizeOnnx } from '../src/model/onnx-quantize.js';
import { loadRun } from '../src/model/run.js';
import { calibrateRanges, quantizeRunOnnx } from '../src/export/int8.js';
import { createOnnxSession, onnxProbabilities, VERIFY_BATCH } from '../src/export/verify.js';
import { loadAverage, median } from './runtimes.js';

const SHAPE = [28, 28, 1];
const PIXELS = 784;
const LATENCY_CALLS = 300;

export interface OnnxCase {
  name: string;
  bytes: Uint8Array;
}

export const machine = () => ({
  cpu: cpus()[0]?.model ?? 'unknown',
  cores: cpus().length,
  node: process.version,
  date: new Date().toISOString().slice(0, 10),
});
/** Round r's order of the cases: rotated by r, so that each goes first in turn. */
const orderOf = <T>(items: readonly T[], round: number): T[] => items.map((_, k) => items[(k + round) % items.length]);

/**
 * Images/s of each case over `count` images in batches of 256 on `threads` intra-op threads:
 * `rounds` interleaved rounds of one timed pass per case, after one warm-up pass each.
 */
async function onnxRates(
  cases: readonly OnnxCase[],
  images: Float32Array,
  count: number,
  threads: number,
  rounds: number,
): Promise<Record<string, { median: number; best: number; rounds: number[]; perCpuSecond: number }>> {
  const sessions = await Promise.all(cases.map((c) => createOnnxSession(c.bytes, threads)));
  const rates: number[][] = cases.map(() => []);
  // Images per second of this process's CPU time (all its threads): less moved by other processes than wall-clock rates.
  const perCpuSecond: number[][] = cases.map(() => []);
  try {
    for (const session of sessions) await onnxProbabilities(session, SHAPE, images, count);
    for (let round = 0; round < rounds; round++) {
      for (const k of orderOf(
        cases.map((_, i) => i),
        round,
      )) {
        const cpu = process.cpuUsage();
        const start = performance.now();
        await onnxProbabilities(sessions[k], SHAPE, images, count);
        rates[k].push(Math.round((count * 1000) / (performance.now() - start)));
        const used = process.cpuUsage(cpu);
        perCpuSecond[k].push(Math.round((count * 1e6) / (used.user + used.system)));
      }
    }
  } finally {
    for (const session of sessions) await session.release();
  }
  return Object.fromEntries(
    cases.map((c, k) => [
      c.name,
      {
        median: median(rates[k]),
        best: Math.max(...rates[k]),
        rounds: rates[k],
        perCpuSecond: median(perCpuSecond[k]),
      },
    ]),
  );
}

/** Median milliseconds of one image through each case, one thread: `rounds` interleaved rounds of 300 calls (after 50 untimed). */
async function onnxLatencies(
  cases: readonly OnnxCase[],
  images: Float32Array,
  rounds: number,
): Promise<Record<string, number>> {
  const sessions = await Promise.all(cases.map((c) => createOnnxSession(c.bytes, 1)));
  const medians: number[][] = cases.map(() => []);
  try {
    for (const session of sessions)
      for (let i = 0; i < 50; i++)
        await onnxProbabilities(session, SHAPE, images.subarray(i * PIXELS, (i + 1) * PIXELS), 1);
    for (let round = 0; round < rounds; round++) {
      for (const k of orderOf(
        cases.map((_, i) => i),
        round,
      )) {
        const times: number[] = [];
        for (let i = 0; i < LATENCY_CALLS; i++) {
          const start = performance.now();
          await onnxProbabilities(sessions[k], SHAPE, images.subarray(i * PIXELS, (i + 1) * PIXELS), 1);
          times.push(performance.now() - start);
        }
        medians[k].push(median(times));
      }
    }
  } finally {
    for (const session of sessions) await session.release();
  }
  return Object.fromEntries(cases.map((c, k) => [c.name, +median(medians[k]).toFixed(3)]));
}

/** Best images/s of TensorFlow.js over 3 passes after a warm-up pass. */
function tfjsRate(model: tf.LayersModel, images: Float32Array, count: number): number {
  const pass = () => {
    for (let start = 0; start < count; start += VERIFY_BATCH) {
      const n = Math.min(VERIFY_BATCH, count - start);
      tf.tidy(() =>
        (
          model.predict(tf.tensor(images.subarray(start * PIXELS, (start + n) * PIXELS), [n, ...SHAPE], 'float32'), {
            batchSize: n,
          }) as tf.Tensor
        ).dataSync(),
      );
    }
  };
  pass();
  let fastest = Infinity;
  for (let r = 0; r < 3; r++) {
    const start = performance.now();
    pass();
    fastest = Math.min(fastest, performance.now() - start);
  }
  return Math.round((count * 1000) / fastest);
}

/** One net's row: tfjs, then the float and int8 ONNX files at 1 and 2 threads, latency, file sizes. */
export async function onnxRow(
  net: string,
  model: tf.LayersModel,
  cases: readonly OnnxCase[],
  images: Float32Array,
  count: number,
  rounds: number,
  log: (m: string) => void,
) {
  log(`${net}: tfjs wasm`);
  const row: Record<string, unknown> = {
    net,
    tfjsWasm: tfjsRate(model, images, count),
    bytes: Object.fromEntries(cases.map((c) => [c.name, c.bytes.length])),
  };
  for (const threads of [1, 2]) {
    log(`${net}: ${cases.map((c) => c.name).join(' and ')}, ${threads} thread(s), ${rounds} rounds`);
    row[`threads${threads}`] = await onnxRates(cases, images, count, threads, rounds);
  }
  log(`${net}: one image, ${rounds} rounds`);
  row.oneImageMs = await onnxLatencies(cases, images, rounds);
  return row;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const opts = new Command('bench-onnx')
    .option('--json', 'print one JSON object')
    .option('--rounds <n>', 'interleaved rounds per ONNX figure (the median is kept)', (v) => Number.parseInt(v, 10), 5)
    .option(
      '--run <dir>',
      "measure this run's network (its int8 copy calibrated on its validation split) instead of seeded nets",
    )
    .parse()
    .opts<{ json?: boolean; rounds: number; run?: string }>();
  const log = (message: string) => process.stderr.write(`bench: ${message}\n`);
  await initBackend('wasm');
  const data = await loadMnist();
  const images = scalePixels(data.test.images);
  const count = data.test.count;
  const loadBefore = loadAverage();
  const rows: Record<string, unknown>[] = [];
  if (opts.run) {
    const run = await loadRun(opts.run);
    const float = layersModelToOnnx(run.model);
    rows.push(
      await onnxRow(
        run.metadata.arch,
        run.model,
        [
          { name: 'onnx', bytes: float },
          { name: 'onnx-int8', bytes: await quantizeRunOnnx(float, run) },
        ],
        images,
        count,
        opts.rounds,
        log,
      ),
    );
    run.model.dispose();
  } else {
    const calibration = scalePixels(data.train.images.subarray(0, 2000 * PIXELS));
    for (const arch of ['compact', 'default']) {
      const model = buildModel(arch, 1);
      const float = layersModelToOnnx(model);
      const int8 = quantizeOnnx(float, await calibrateRanges(float, calibration, 2000, SHAPE));
      rows.push(
        await onnxRow(
          arch,
          model,
          [
            { name: 'onnx', bytes: float },
            { name: 'onnx-int8', bytes: int8 },
          ],
          images,
          count,
          opts.rounds,
          log,
        ),
      );
      model.dispose();
    }
  }
  const figures = {
    machine: { ...machine(), loadBefore, loadAfter: loadAverage() },
    images: count,
    batch: VERIFY_BATCH,
    rounds: opts.rounds,
    run: opts.run ?? null,
    rows,
  };
  if (opts.json) {
    console.log(JSON.stringify(figures, null, 2));
  } else {
    const m = figures.machine;
    console.log(
      `${m.cpu}, ${m.cores} cores, Node ${m.node}; load average ${m.loadBefore.join(' ')} before, ${m.loadAfter.join(' ')} after; ${count} images, batch ${VERIFY_BATCH}, medians of ${opts.rounds} interleaved rounds, images/s`,
    );
    console.log(
      '| net | tfjs wasm (1 core) | onnx 1 thread | onnx-int8 1 thread | onnx 2 threads | onnx-int8 2 threads | one image onnx / onnx-int8 | file onnx / onnx-int8 |',
    );
    console.log('|---|---|---|---|---|---|---|---|');
    const n = (v: number) => v.toLocaleString('en-US');
    type Rates = Record<string, { median: number }>;
    for (const r of rows as {
      net: string;
      tfjsWasm: number;
      threads1: Rates;
      threads2: Rates;
      oneImageMs: Record<string, number>;
      bytes: Record<string, number>;
    }[]) {
      console.log(
        `| ${r.net} | ${n(r.tfjsWasm)} | ${n(r.threads1.onnx.median)} | ${n(r.threads1['onnx-int8'].median)} | ${n(r.threads2.onnx.median)} | ${n(r.threads2['onnx-int8'].median)} | ${r.oneImageMs.onnx} / ${r.oneImageMs['onnx-int8']} ms | ${(r.bytes.onnx / 1e3).toFixed(0)} / ${(r.bytes['onnx-int8'] / 1e3).toFixed(0)} kB |`,
      );
    }
  }
}

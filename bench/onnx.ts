/**
 * `node --import tsx bench/onnx.ts [--json] [--repeats N]`: batch inference over the 10,000 MNIST
 * test images, TensorFlow.js (wasm backend, `model.predict` in batches of 256, one core: tfjs runs
 * one wasm backend on one core in Node) against the same model exported to ONNX and run by
 * onnxruntime-node on 1 and 2 intra-op threads (batches of 256), for the `compact` and `default`
 * nets. Weights are a seeded initialisation: speed does not depend on their values. Each figure is
 * the best of `--repeats` passes (default 3) after one warm-up pass, in images/s; also ONNX
 * Runtime's median latency for one image, one thread.
 */
import { cpus } from 'node:os';
import { Command } from 'commander';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend/index.js';
import { loadMnist } from '../src/data/load.js';
import { scalePixels } from '../src/data/model-input.js';
import { buildModel } from '../src/model/architectures.js';
import { layersModelToOnnx } from '../src/model/onnx.js';
import { createOnnxSession, onnxProbabilities, VERIFY_BATCH } from '../src/export/verify.js';

const opts = new Command('bench-onnx')
  .option('--json', 'print one JSON object')
  .option('--repeats <n>', 'timed passes per figure (best one kept)', (v) => Number.parseInt(v, 10), 3)
  .parse()
  .opts<{ json?: boolean; repeats: number }>();
const log = (message: string) => process.stderr.write(`bench: ${message}\n`);

await initBackend('wasm');
const test = (await loadMnist()).test;
const images = scalePixels(test.images);
const count = test.count;
const shape = [28, 28, 1];

/** Best images/s over the repeats, after one untimed warm-up pass. */
async function best(pass: () => Promise<void> | void): Promise<number> {
  await pass();
  let fastest = Infinity;
  for (let r = 0; r < opts.repeats; r++) {
    const start = performance.now();
    await pass();
    fastest = Math.min(fastest, performance.now() - start);
  }
  return Math.round((count * 1000) / fastest);
}

function tfjsPass(model: tf.LayersModel): void {
  for (let start = 0; start < count; start += VERIFY_BATCH) {
    const n = Math.min(VERIFY_BATCH, count - start);
    tf.tidy(() => {
      const x = tf.tensor(images.subarray(start * 784, (start + n) * 784), [n, ...shape], 'float32');
      (model.predict(x, { batchSize: n }) as tf.Tensor).dataSync();
    });
  }
}

const rows: Record<string, number | string>[] = [];
for (const arch of ['compact', 'default']) {
  const model = buildModel(arch, 1);
  const bytes = layersModelToOnnx(model);
  log(`${arch}: tfjs wasm`);
  const tfjsRate = await best(() => tfjsPass(model));
  const row: Record<string, number | string> = { arch, tfjsWasm: tfjsRate };
  for (const threads of [1, 2]) {
    log(`${arch}: onnxruntime-node, ${threads} thread(s)`);
    const session = await createOnnxSession(bytes, threads);
    row[`onnx${threads}`] = await best(async () => {
      await onnxProbabilities(session, shape, images, count);
    });
    if (threads === 1) {
      const times: number[] = [];
      for (let i = 0; i < 300; i++) {
        const start = performance.now();
        await onnxProbabilities(session, shape, images.subarray(i * 784, (i + 1) * 784), 1);
        times.push(performance.now() - start);
      }
      row.onnxLatencyMs = Number(times.sort((a, b) => a - b)[150].toFixed(3));
    }
    await session.release();
  }
  rows.push(row);
  model.dispose();
}

const machine = { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, node: process.version, date: new Date().toISOString().slice(0, 10) };
if (opts.json) {
  console.log(JSON.stringify({ machine, images: count, batch: VERIFY_BATCH, repeats: opts.repeats, rows }, null, 2));
} else {
  console.log(`${machine.cpu}, ${machine.cores} cores, Node ${machine.node}; ${count} images, batch ${VERIFY_BATCH}, best of ${opts.repeats}, images/s`);
  console.log('| net | tfjs wasm (1 core) | onnxruntime-node 1 thread | 2 threads | ONNX one image, median |');
  console.log('|---|---|---|---|---|');
  const n = (v: number | string) => (typeof v === 'number' ? v.toLocaleString('en-US') : v);
  for (const r of rows) console.log(`| ${r.arch} | ${n(r.tfjsWasm)} | ${n(r.onnx1)} | ${n(r.onnx2)} | ${r.onnxLatencyMs} ms |`);
}

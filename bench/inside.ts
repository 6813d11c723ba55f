/**
 * What "inside the network" costs (issue #16), for the benchmark only (tests never assert
 * timings): the embedding map's two steps (the penultimate layer's values, UMAP) for several
 * sample sizes; the pictures of the report; the server's `?layers=1` answer (time and bytes);
 * `inspect` of one image. Prints one JSON object. The load average is printed with it: on a
 * busy machine every figure grows alike.
 *
 *   node --import tsx bench/inside.ts [RUN]      (default: the tests' quick run)
 */
import { loadavg } from 'node:os';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadMnist } from '../src/data/load.js';
import { computeEmbedding, writeInsidePlots } from '../src/evaluate/inside.js';
import { Predictor } from '../src/predict/predictor.js';
import { layersAnswer } from '../src/serve/routes/layers.js';
import { quickRunDir } from '../test/helpers/quick-run.js';

const run = process.argv[2] ?? (await quickRunDir());
const predictor = await Predictor.load(run);
const { test: set } = await loadMnist();
const round = (ms: number) => Math.round(ms);
const embedding: Record<string, { activationMs: number; umapMs: number }> = {};
for (const sample of [2000, 5000, 10000]) {
  const e = computeEmbedding(predictor.model, set, predictor.spec, { seed: 1, sample });
  embedding[sample] = { activationMs: round(e.activationMs), umapMs: round(e.umapMs) };
}
const dir = await mkdtemp(join(tmpdir(), 'mnist-inside-bench-'));
const inside = await writeInsidePlots(
  dir,
  predictor.model,
  set,
  { classNames: predictor.metadata?.classNames ?? [], worstErrors: [] },
  { spec: predictor.spec, seed: 1 },
);
await rm(dir, { recursive: true, force: true });
const input = predictor.preprocessPixels(set.images.slice(0, 784));
layersAnswer(predictor, input);
const started = performance.now();
const calls = 50;
for (let i = 0; i < calls; i++) layersAnswer(predictor, input);
const layersMs = (performance.now() - started) / calls;
const views = layersAnswer(predictor, input);
await predictor.close();
console.log(
  JSON.stringify(
    {
      run,
      loadAverage: loadavg()[0],
      embedding,
      reportPicturesMs: round(inside.ms),
      layers: {
        ms: Number(layersMs.toFixed(1)),
        bytes: views.reduce((sum, v) => sum + Buffer.from(v.data, 'base64').length, 0),
        jsonBytes: JSON.stringify(views).length,
      },
    },
    null,
    2,
  ),
);

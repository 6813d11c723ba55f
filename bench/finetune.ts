/**
 * The `finetune` part of `npm run bench` (issue 28, "Teach it your handwriting"): a population of
 * writers made here (test/helpers/hand-writers.ts: digits drawn stroke by stroke with a style per
 * writer, on the page's pad or on photographed paper, through the photo pipeline), 10 corrections
 * per digit from it filed into a corrections folder, `mnist-cnn finetune` of the model shipped in
 * the package on them, and then:
 *   - the rest of the population read right, before and after;
 *   - MNIST test accuracy of the fine-tuned run against the base (within 0.15 points);
 *   - the generated non-digits' test split refused (not below 95%);
 *   - ECE on the MNIST test set (at most 1%);
 *   - the wall and CPU time of the whole `mnist-cnn finetune` process, for 100 and 500
 *     corrections, with the load average of the machine before and after (at most 60 s on 2 cores).
 *
 *   npm run bench -- --only finetune --json           (the figures as one JSON object)
 *   npx tsx bench/finetune.ts [--json] [--out bench/results/finetune.json]
 *
 * The population's seed is BENCH_SEED, never used while choosing finetune's defaults (those were
 * chosen on another seed's population and on MNIST validation figures: docs/finetune.md).
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { CORRECTION_LABELS, makeCorrection } from '../src/data/correction-files.js';
import { CorrectionStore } from '../src/data/corrections.js';
import { stratifiedIndices } from '../src/data/split.js';
import { PIXELS, type ImageSet } from '../src/data/types.js';
import { readMetadata, resolveRunDir } from '../src/model/run.js';
import { Predictor } from '../src/predict/predictor.js';
import { createRng } from '../src/util/rng.js';
import { libraryVersions } from '../src/util/version.js';
import { writerPopulation, type WriterSample } from '../test/helpers/hand-writers.js';
import { nonDigitFigures } from './non-digits.js';
import { calibrationFigures } from './trust.js';
import { finetuneLines, type FinetuneFigures, type ReadFigures, type RunFigures, type TimedFinetune } from './finetune-table.js';

/** The measured population: writers and samples of each digit by each. */
const BENCH_SEED = 2028;
const WRITERS = 40;
const PER_DIGIT = 5;
/** Corrections per digit of the two timed fine-tunings (100 and 500 corrections). */
const CORRECTIONS_PER_DIGIT = [10, 50] as const;
const BASE = 'default';

const TARGETS = { newWritersAfter: 0.97, mnistDrop: 0.0015, nonDigitsRefused: 0.95, ece: 0.01, seconds: 60 } as const;

const log = (message: string) => process.stderr.write(`bench finetune: ${message}\n`);

function setOf(samples: WriterSample[]): ImageSet {
  const images = new Uint8Array(samples.length * PIXELS);
  samples.forEach((s, i) => images.set(s.pixels, i * PIXELS));
  return { images, labels: Uint8Array.from(samples, (s) => s.label), count: samples.length };
}

/** How a run reads a set of digits (one picture each, through the run's own rule). */
async function readFigures(runDir: string, set: ImageSet): Promise<ReadFigures> {
  const predictor = await Predictor.load(runDir, { threads: 2 });
  try {
    const answers = await predictor.predict(Array.from({ length: set.count }, (_, i) => predictor.preprocessPixels(set.images.subarray(i * PIXELS, (i + 1) * PIXELS))));
    return { n: set.count, accuracy: answers.filter((a, i) => a.digit === set.labels[i]).length / set.count, refused: answers.filter((a) => a.digit === null).length / set.count };
  } finally {
    await predictor.close();
  }
}

async function runFigures(runDir: string, newWriters: ImageSet): Promise<RunFigures> {
  const calibration = await calibrationFigures(runDir, { threads: 2 });
  const open = await nonDigitFigures(runDir, { perCategory: 100, perKind: 0, threads: 2 });
  return {
    run: runDir,
    newWriters: await readFigures(runDir, newWriters),
    mnistTest: { accuracy: calibration.accuracy, ece: calibration.after.ece, refused: open.mnistTest.refused },
    nonDigitsRefused: open.nonDigits.refused,
  };
}

/** A whole `mnist-cnn finetune` process: its wall and CPU seconds (the child reports its own CPU time on stderr's last line). */
function timedFinetune(data: string, out: string): { seconds: number; cpuSeconds: number; loadBefore: number; loadAfter: number } {
  const loadBefore = loadavg()[0];
  const start = performance.now();
  const report = 'data:text/javascript,process.on("exit",()=>{const u=process.cpuUsage();process.stderr.write("\\ncpu "+(u.user+u.system)/1e6)})';
  const child = spawnSync(process.execPath, ['--import', report, 'bin/mnist-cnn.js', 'finetune', BASE, '--data', data, '--out', out, '--quiet'], { encoding: 'utf8' });
  const seconds = (performance.now() - start) / 1000;
  if (child.status !== 0) throw new Error(`mnist-cnn finetune failed (exit ${child.status}): ${child.stderr.trim().split('\n').slice(-3).join(' / ')}`);
  return { seconds: +seconds.toFixed(1), cpuSeconds: +Number(/cpu ([\d.]+)\s*$/.exec(child.stderr)?.[1]).toFixed(1), loadBefore: +loadBefore.toFixed(2), loadAfter: +loadavg()[0].toFixed(2) };
}

export async function finetuneFigures(): Promise<{ finetune: FinetuneFigures }> {
  const root = await mkdtemp(join(tmpdir(), 'mnist-cnn-bench-finetune-'));
  try {
    log(`drawing the population: ${WRITERS} writers x ${PER_DIGIT} of each digit (seed ${BENCH_SEED})`);
    const population = writerPopulation({ seed: BENCH_SEED, writers: WRITERS, perDigit: PER_DIGIT });
    const baseDir = resolveRunDir(BASE);
    log('the base model: the population, MNIST test, non-digits');
    const all = setOf(population);
    const base = await runFigures(baseDir, all);
    const runs: TimedFinetune[] = [];
    for (const perDigit of CORRECTIONS_PER_DIGIT) {
      const { picked, rest } = stratifiedIndices(all.labels, perDigit * 10, createRng(BENCH_SEED + perDigit));
      const folder = join(root, `corrections-${perDigit}`);
      const store = await CorrectionStore.open(folder);
      for (const i of picked) await store.add(makeCorrection(CORRECTION_LABELS[population[i].label], population[i].pixels));
      const out = join(root, `run-${perDigit}`);
      log(`mnist-cnn finetune on ${store.count} corrections (load ${loadavg()[0].toFixed(1)})`);
      const timing = timedFinetune(folder, out);
      log(`${timing.seconds} s wall, ${timing.cpuSeconds} s CPU; measuring the fine-tuned run`);
      const record = (await readMetadata(out)).finetune;
      const others = setOf(Array.from(rest, (i) => population[i]));
      runs.push({
        corrections: store.count,
        before: await readFigures(baseDir, others),
        ...timing,
        after: await runFigures(out, others),
        heldOut: { count: record?.holdout.count ?? 0, before: record?.holdout.before?.accuracy, after: record?.holdout.after?.accuracy },
      });
    }
    const first = runs[0];
    const slowest = Math.max(...runs.map((r) => r.seconds));
    const targets = {
      newWritersAfter: { target: TARGETS.newWritersAfter, value: first.after.newWriters.accuracy, met: first.after.newWriters.accuracy >= TARGETS.newWritersAfter },
      mnistDrop: { target: TARGETS.mnistDrop, value: +(base.mnistTest.accuracy - first.after.mnistTest.accuracy).toFixed(4), met: base.mnistTest.accuracy - first.after.mnistTest.accuracy <= TARGETS.mnistDrop },
      nonDigitsRefused: { target: TARGETS.nonDigitsRefused, value: first.after.nonDigitsRefused, met: first.after.nonDigitsRefused >= TARGETS.nonDigitsRefused },
      ece: { target: TARGETS.ece, value: first.after.mnistTest.ece, met: first.after.mnistTest.ece <= TARGETS.ece },
      seconds: { target: TARGETS.seconds, value: slowest, met: slowest <= TARGETS.seconds },
    };
    return {
      finetune: {
        date: new Date().toISOString(),
        cpu: cpus()[0]?.model ?? 'unknown',
        cores: cpus().length,
        versions: libraryVersions(),
        population: {
          how: 'test/helpers/hand-writers.ts: per-writer style (form of each digit, slant, width, roundness, pen, pad or photographed paper), skeleton strokes warped per sample, drawn with image/ink-canvas.ts, through the photo pipeline',
          seed: BENCH_SEED,
          writers: WRITERS,
          perDigit: PER_DIGIT,
          digits: population.length,
          refusedByThePipeline: population.filter((s) => s.reason).length,
        },
        base,
        runs,
        targets,
      },
    };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({ options: { json: { type: 'boolean' }, out: { type: 'string' } } });
  const figures = await finetuneFigures();
  if (values.out) await writeFile(values.out, JSON.stringify(figures, null, 2) + '\n');
  console.log(values.json ? JSON.stringify(figures, null, 2) : finetuneLines(figures.finetune).join('\n'));
}

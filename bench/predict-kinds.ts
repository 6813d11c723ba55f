/**
 * How well a model reads each kind of picture people feed in: generates a folder of MNIST test
 * digits (as 28x28 PNGs and put through photo-like distortions) and printed digits (fonts,
 * polarities, transparency, photo-like), reads it the way `mnist-cnn predict MODEL DIR` does,
 * and prints the rate per kind next to the model's accuracy on the same MNIST digits as IDX.
 *
 *   npx tsx bench/predict-kinds.ts runs/latest [--per-kind 100] [--out .cache/predict-kinds] [--seed 1]
 *
 * Files are named OUT/<kind>/<label>-<n>.<ext>; `mnist-cnn predict MODEL OUT --format csv`
 * gives the same readings.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadMnist } from '../src/data/index.js';
import { Predictor } from '../src/predict/predictor.js';
import { predictFiles } from '../src/predict/predict-files.js';
import { preprocessMnistPixels } from '../src/image/preprocess.js';
import { createRng } from '../src/util/rng.js';
import {
  FONTS,
  MNIST_KINDS,
  PRINTED_KINDS,
  encodePng,
  mnistAs,
  printedAs,
  type Generated,
} from '../test/helpers/digit-pictures.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    'per-kind': { type: 'string', default: '100' },
    out: { type: 'string', default: '.cache/predict-kinds' },
    seed: { type: 'string', default: '1' },
    'min-confidence': { type: 'string', default: '0' },
  },
});
if (positionals.length !== 1) {
  console.error(
    'usage: npx tsx bench/predict-kinds.ts MODEL_DIR [--per-kind N] [--out DIR] [--seed S] [--min-confidence X]',
  );
  process.exit(2);
}
const perKind = Number(values['per-kind']);
const seed = Number(values.seed);
const outDir = join(values.out, `seed${seed}-n${perKind}`);

async function save(dir: string, g: Generated, n: number): Promise<void> {
  const path = join(dir, g.kind, `${g.label}-${String(n).padStart(4, '0')}${g.ext}`);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, g.bytes);
}

/** The same MNIST test digits for every kind (a stratified-enough spread: every 10000/n-th). */
async function generate(dir: string, mnistIndices: number[], images: Uint8Array, labels: Uint8Array): Promise<void> {
  const rng = createRng(seed);
  for (const [n, i] of mnistIndices.entries()) {
    const pixels = images.subarray(i * 784, (i + 1) * 784);
    await save(
      dir,
      {
        kind: 'mnist-28' as never,
        label: labels[i],
        ext: '.png',
        bytes: await encodePng({ data: pixels, width: 28, height: 28, channels: 1 }),
      },
      n,
    );
    for (const kind of MNIST_KINDS) await save(dir, await mnistAs(kind, pixels, labels[i], rng), n);
  }
  for (let n = 0; n < perKind; n++) {
    const digit = n % 10;
    const font = FONTS[Math.floor(n / 10) % FONTS.length];
    for (const kind of PRINTED_KINDS) await save(dir, await printedAs(kind, digit, font, rng), n);
  }
}

const data = await loadMnist();
const step = Math.floor(data.test.count / perKind);
const mnistIndices = Array.from({ length: perKind }, (_, n) => n * step);
if (!existsSync(outDir)) {
  console.error(`generating ${outDir} ...`);
  await generate(outDir, mnistIndices, data.test.images, data.test.labels);
}

const predictor = await Predictor.load(positionals[0], { minConfidence: Number(values['min-confidence']) });
const reference = await predictor.predict(
  mnistIndices.map((i) => preprocessMnistPixels(data.test.images.subarray(i * 784, (i + 1) * 784))),
);
const referenceRate = reference.filter((p, k) => p.digit === data.test.labels[mnistIndices[k]]).length / perKind;

const rows = await predictFiles(predictor, [outDir]);
const byKind = new Map<string, { n: number; correct: number; abstained: number; errors: number }>();
for (const row of rows) {
  const kind = basename(dirname(row.file));
  const label = Number(basename(row.file)[0]);
  const stats = byKind.get(kind) ?? { n: 0, correct: 0, abstained: 0, errors: 0 };
  stats.n++;
  if (row.error) stats.errors++;
  else if (row.prediction!.digit === null) stats.abstained++;
  else if (row.prediction!.digit === label) stats.correct++;
  byKind.set(kind, stats);
}
console.log(
  `model ${predictor.dir} (${predictor.metadata?.arch}); ${perKind} pictures per kind; min confidence ${predictor.rule.minConfidence}`,
);
console.log(
  `${'kind'.padEnd(24)} ${'n'.padStart(5)} ${'rate'.padStart(7)} ${'no digit'.padStart(9)} ${'errors'.padStart(7)}`,
);
console.log(
  `${'mnist-idx (reference)'.padEnd(24)} ${String(perKind).padStart(5)} ${(100 * referenceRate).toFixed(1).padStart(6)}%`,
);
for (const [kind, s] of [...byKind.entries()].sort()) {
  console.log(
    `${kind.padEnd(24)} ${String(s.n).padStart(5)} ${((100 * s.correct) / s.n).toFixed(1).padStart(6)}% ${String(s.abstained).padStart(9)} ${String(s.errors).padStart(7)}`,
  );
}
await predictor.close();

/**
 * `finetune` end to end on a small corrections folder: a base run with the "not a digit" output,
 * corrections drawn by a small population of writers that are not MNIST's (test/helpers/hand-writers.ts)
 * and a few non-digits; the new run is a normal run folder that loads and answers, names its base
 * and its data, and has learnt its corrections.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend } from '../../src/backend/index.js';
import { makeCorrection, CORRECTION_LABELS } from '../../src/data/correction-files.js';
import { CorrectionStore, readCorrections } from '../../src/data/corrections.js';
import { loadMnist, type Dataset, type ImageSet } from '../../src/data/index.js';
import { decodeDigitImage } from '../../src/image/digit-file.js';
import { nonDigitSet, nonDigitTrainingImages } from '../../src/image/non-digits.js';
import { evaluateRun } from '../../src/evaluate/evaluate.js';
import { readMetadata } from '../../src/model/run.js';
import { Predictor } from '../../src/predict/predictor.js';
import { finetune, type FinetuneResult } from '../../src/train/finetune.js';
import { resume } from '../../src/train/trainer.js';
import { UserError } from '../../src/util/errors.js';
import { writerPopulation } from '../helpers/hand-writers.js';
import { nonDigitRunDir } from '../helpers/non-digit-run.js';
import { removeTempDirs, tempDir } from '../helpers/run-fixtures.js';

let mnist: Dataset;
let base: string;
let corrections: string;
let result: FinetuneResult;
/** The corrected digits, as the model sees them. */
let digits: ImageSet;
/** Other digits by the same writers, never filed: what learning their hand (not their pictures) shows on. */
let unseen: ImageSet;

const setOf = (samples: { label: number; pixels: Uint8Array }[]): ImageSet => {
  const set = {
    images: new Uint8Array(samples.length * 784),
    labels: Uint8Array.from(samples, (s) => s.label),
    count: samples.length,
  };
  samples.forEach((s, i) => set.images.set(s.pixels, i * 784));
  return set;
};

/** Share of a set a Predictor reads right (a refusal counts as wrong). */
async function readRight(dir: string, set: ImageSet): Promise<number> {
  const predictor = await Predictor.load(dir);
  try {
    const answers = await predictor.predict(
      Array.from({ length: set.count }, (_, i) =>
        predictor.preprocessPixels(set.images.subarray(i * 784, (i + 1) * 784)),
      ),
    );
    return answers.filter((a, i) => a.digit === set.labels[i]).length / set.count;
  } finally {
    await predictor.close();
  }
}

before(async () => {
  await initBackend('wasm', { quiet: true });
  mnist = await loadMnist();
  base = await nonDigitRunDir();
  corrections = join(await tempDir('mnist-finetune-'), 'corrections');
  const store = await CorrectionStore.open(corrections);
  // 4 writers x 2 of each digit, and 6 non-digits filed as "not a digit".
  const samples = writerPopulation({ seed: 7, writers: 4, perDigit: 2 });
  for (const s of samples) await store.add(makeCorrection(CORRECTION_LABELS[s.label], s.pixels));
  const others = (
    await nonDigitSet({
      split: 'train',
      perCategory: 2,
      seed: 77,
      categories: ['scribble', 'letter', 'shape'],
      threads: 1,
    })
  ).filter((s) => !s.reason);
  for (const s of others) await store.add(makeCorrection('not-a-digit', s.pixels));
  digits = setOf(samples);
  // Each sample has its own stream (writer, digit, n): samples 2 and 3 of each digit are new ones by the same writers.
  unseen = setOf(writerPopulation({ seed: 7, writers: 4, perDigit: 4 }).filter((_, i) => i % 4 >= 2));
  const nonDigitImages = await nonDigitTrainingImages(1, 20);
  result = await finetune({
    base,
    data: corrections,
    outDir: join(await tempDir('mnist-finetune-run-'), 'run'),
    mnist,
    settings: { rehearsal: 2000, epochs: 1, userShare: 0.4 },
    nonDigitImages,
    updateLatest: false,
  });
});
after(removeTempDirs);

test('the fine-tuned run is a normal run folder: it loads and answers, and its metadata names its base and the data it learnt from', async () => {
  const meta = await readMetadata(result.dir);
  assert.equal(meta.finetune?.base.dir, realpathSync(base));
  assert.equal(meta.finetune?.base.weightsSha256, (await readMetadata(base)).weightsSha256);
  assert.equal(meta.finetune?.data.sha256, (await readCorrections(corrections, decodeDigitImage)).sha256);
  assert.deepEqual(meta.finetune?.data.perClass, [...new Array(10).fill(8), meta.finetune?.data.perClass[10]]);
  assert.ok(meta.finetune.data.perClass[10] >= 3, 'non-digits filed');
  // 20% of the 80 digits held out, stratified: 16, and answered by both runs.
  assert.equal(meta.finetune?.holdout.count, 16);
  assert.equal(meta.finetune?.holdout.before?.n, 16);
  assert.equal(meta.finetune?.holdout.after?.n, 16);
  // Its temperature and not-a-digit threshold fitted afresh on the base's validation split and the held-out corrections.
  assert.equal(
    meta.temperatureFit?.on === 'val' && meta.temperatureFit.n,
    (await readMetadata(base)).data.valCount + 16,
  );
  assert.equal(meta.nonDigitRule?.digits, (await readMetadata(base)).data.valCount + 16);
  assert.ok(existsSync(join(result.dir, 'model.json')) && !existsSync(join(result.dir, 'checkpoints')));
  const predictor = await Predictor.load(result.dir);
  try {
    const [answer] = await predictor.predict([predictor.preprocessPixels(digits.images.subarray(0, 784))]);
    assert.equal(predictor.outputs, 11);
    assert.equal(answer.probabilities.length, 10);
  } finally {
    await predictor.close();
  }
  // `evaluate --data` reads the held-out corrections kept in the run folder.
  const held = await evaluateRun(result.dir, {
    data: join(result.dir, 'holdout-images-idx3-ubyte'),
    write: false,
    plots: false,
  });
  assert.equal(held.metrics.n, 16);
});

test('it learnt its corrections: the corrected digits are read right more often than by the base, most of them', async () => {
  const [before, after] = [await readRight(base, digits), await readRight(result.dir, digits)];
  assert.ok(after > before && after >= 0.85, `read right: base ${before}, fine-tuned ${after}`);
});

test("it learnt the writers' hand: their digits it never saw are read right more often than by the base", async () => {
  const [before, after] = [await readRight(base, unseen), await readRight(result.dir, unseen)];
  assert.ok(after > before && after >= 0.9, `read right: base ${before}, fine-tuned ${after}`);
});

test('a fine-tuned run is not resumed; a folder with no corrected digit is refused, naming it', async () => {
  await assert.rejects(
    resume(result.dir),
    (err) => err instanceof UserError && /was made by `mnist-cnn finetune`, which is not resumed/.test(err.message),
  );
  const empty = join(await tempDir('mnist-finetune-empty-'), 'c');
  const store = await CorrectionStore.open(empty);
  await store.add(makeCorrection('not-a-digit', new Uint8Array(784).fill(200)));
  await assert.rejects(
    finetune({ base, data: empty, outDir: join(empty, 'run'), mnist, updateLatest: false }),
    (err) =>
      err instanceof UserError &&
      err.message === `${empty}: no corrected digits (0/ .. 9/ are empty): nothing to fine-tune on`,
  );
});

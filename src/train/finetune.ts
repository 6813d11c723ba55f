/**
 * `mnist-cnn finetune`: a trained run (by default the model shipped in the package) taught a
 * person's own digits, from a folder of corrections (data/correction-files.ts), without
 * forgetting MNIST. It is a training like any other (trainer.ts, started from the base run's
 * weights on the sets made here), so the new run folder is a normal one: report, serve, export,
 * evaluate all work on it, and its metadata.json records the base run and the corrections'
 * SHA-256 (`finetune`).
 *
 * The sets:
 * - the corrections' digits, a stratified share held out (`holdout`) to validate on;
 * - training: the other corrections, each `copies` times (augmented afresh each time, as every
 *   training image is), mixed with `rehearsal` images of the base run's own training split
 *   (with its share of pictured digits) so that the corrections make `userShare` of the digits
 *   trained on, and, for a base with the "not a digit" output, non-digit pictures in every batch
 *   as the base trained with them (fewer drawn: they only need rehearsing) and the corrections
 *   filed as "not a digit";
 * - validation: the base run's MNIST validation split plus the held-out corrections: it picks the
 *   best epoch, and the run's temperature and not-a-digit threshold are fitted on it afresh.
 *
 * A fine-tuning is not resumed: it is one short epoch over a small mix; run it again.
 */
import { rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { initBackend } from '../backend/index.js';
import { readCorrections } from '../data/corrections.js';
import { writeIdx } from '../data/idx.js';
import { loadMnist } from '../data/load.js';
import { seededSplitIndices, stratifiedIndices, takeIndices } from '../data/split.js';
import { IMAGE_SIZE, NOT_A_DIGIT, NUM_CLASSES, PIXELS, type Dataset, type ImageSet } from '../data/types.js';
import { decodeDigitImage } from '../image/digit-file.js';
import { withPicturedDigits } from '../image/digit-pictures.js';
import { nonDigitTrainingImages } from '../image/non-digits.js';
import { outputCount } from '../model/architectures.js';
import {
  loadRun,
  readMetadata,
  resolveRunDir,
  RUN_FILES,
  writeMetadata,
  type AnswerScores,
  type FinetuneRecord,
  type RunMetadata,
} from '../model/run.js';
import { shippedModelOf } from '../model/shipped.js';
import { Predictor } from '../predict/predictor.js';
import { UserError } from '../util/errors.js';
import { writeFileAtomic } from '../util/fs.js';
import { createRng, deriveSeed } from '../util/rng.js';
import type { TrainConfig } from './config.js';
import { readConfigFile, resolveConfig } from './config-file.js';
import { picturedDigitsRng } from './randomness.js';
import type { TrainReporter } from './reporter.js';
import { FINETUNE_DEFAULTS, type FinetuneSettings } from './finetune-settings.js';
import { train } from './trainer.js';

/** What to fine-tune, on what, into where (`mnist-cnn finetune`'s flags). */
export interface FinetuneOptions {
  /** The run to start from: a run folder, or a shipped model's name (default `default`). */
  base?: string;
  /** The corrections folder: class folders `0/` .. `9/` and `not-a-digit/` of pictures. */
  data: string;
  /** The new run's folder (default runs/<timestamp>-<arch>). */
  outDir?: string;
  /** Point <runs>/latest at the new run (default true). */
  updateLatest?: boolean;
  /** What to change of FINETUNE_DEFAULTS (docs/finetune.md says how they were chosen). */
  settings?: Partial<FinetuneSettings>;
  /** Threads sharing each batch (default: the base run's). */
  threads?: number;
  /** The training's progress (epochs, batches), as `train` reports it; quiet by default. */
  reporter?: TrainReporter;
  /** Told what is done before training (the corrections read, the mix). */
  log?: (message: string) => void;
  /** MNIST already loaded (tests, benchmarks). */
  mnist?: Dataset;
  /** Non-digit pictures to rehearse, 28x28 bytes one after another (tests hand in fewer); drawn otherwise. */
  nonDigitImages?: { images: Uint8Array; count: number };
}

/** The new run: its folder, its metadata.json, and the `finetune` record in it. */
export interface FinetuneResult {
  /** The new run folder. */
  dir: string;
  /** Its metadata.json as written. */
  metadata: RunMetadata;
  /** The `finetune` record of its metadata: base, data, held-out digits before and after, mix. */
  record: FinetuneRecord;
}

/** Sets one after another. */
function concatSets(sets: ImageSet[]): ImageSet {
  const count = sets.reduce((sum, set) => sum + set.count, 0);
  const images = new Uint8Array(count * PIXELS);
  const labels = new Uint8Array(count);
  let at = 0;
  for (const set of sets) {
    images.set(set.images.subarray(0, set.count * PIXELS), at * PIXELS);
    labels.set(set.labels.subarray(0, set.count), at);
    at += set.count;
  }
  return { images, labels, count };
}

/** The indices of a set's items whose label passes `test`. */
const indicesWhere = (labels: Uint8Array, test: (label: number) => boolean) =>
  Array.from(labels.keys()).filter((i) => test(labels[i]));

/** How a model answers a set of labelled digits, through the one answer rule. */
async function answerScores(
  model: tf.LayersModel,
  dir: string,
  metadata: RunMetadata,
  set: ImageSet,
  backend: TrainConfig['backend'],
): Promise<AnswerScores | undefined> {
  if (set.count === 0) return undefined;
  const predictor = await Predictor.fromModel(model, { dir, metadata, runtime: 'tfjs', backend, threads: 1 });
  try {
    const probs = await predictor.probabilities(set);
    let right = 0;
    let refused = 0;
    for (let i = 0; i < set.count; i++) {
      const { digit } = predictor.interpret(probs.subarray(i * predictor.outputs, (i + 1) * predictor.outputs));
      if (digit === null) refused++;
      else if (digit === set.labels[i]) right++;
    }
    return { n: set.count, accuracy: right / set.count, refused: refused / set.count };
  } finally {
    await predictor.close();
  }
}

/** Fine-tune a run on a corrections folder into a new run folder (see the top of this file). */
export async function finetune(options: FinetuneOptions): Promise<FinetuneResult> {
  const log = options.log ?? (() => {});
  const baseDir = resolveRunDir(options.base ?? 'default');
  const baseMeta = await readMetadata(baseDir);
  if (baseMeta.members)
    throw new UserError(
      `${baseDir} is an ensemble: fine-tune one of its members (${baseMeta.members.join(', ')})`,
      baseDir,
    );
  const settings: FinetuneSettings = { ...FINETUNE_DEFAULTS, seed: baseMeta.seed, ...options.settings };
  const baseConfig = {
    ...resolveConfig(),
    ...readConfigFile(join(baseDir, RUN_FILES.config), "the base run's config"),
  };
  const config: TrainConfig = {
    ...baseConfig,
    epochs: settings.epochs,
    lr: settings.lr,
    seed: settings.seed,
    earlyStopping: 0,
    threads: options.threads ?? baseConfig.threads,
  };
  const backend = await initBackend(config.backend, { quiet: true });
  const { model } = await loadRun(baseDir);

  // The corrections: digits (a share held out) and, for a model with that output, "not a digit".
  const corrections = await readCorrections(options.data, decodeDigitImage);
  const perClass = Array.from(
    { length: NUM_CLASSES + 1 },
    (_, k) => corrections.labels.filter((label) => label === k).length,
  );
  const digits = takeIndices(
    corrections,
    indicesWhere(corrections.labels, (label) => label < NUM_CLASSES),
  );
  if (digits.count === 0)
    throw new UserError(
      `${options.data}: no corrected digits (0/ .. 9/ are empty): nothing to fine-tune on`,
      options.data,
    );
  const withNotADigit = outputCount(model) === NUM_CLASSES + 1;
  const nonDigitCorrections = withNotADigit
    ? takeIndices(
        corrections,
        indicesWhere(corrections.labels, (label) => label === NOT_A_DIGIT),
      )
    : takeIndices(corrections, []);
  if (!withNotADigit && perClass[NOT_A_DIGIT] > 0)
    log(
      `the base model has no "not a digit" output: the ${perClass[NOT_A_DIGIT]} corrections in not-a-digit/ are not used`,
    );
  const held = stratifiedIndices(
    digits.labels,
    Math.round(settings.holdout * digits.count),
    createRng(deriveSeed(settings.seed, 0xf17e, 1)),
  );
  const holdout = takeIndices(digits, held.picked);
  const userTrain = concatSets([takeIndices(digits, held.rest), nonDigitCorrections]);
  if (userTrain.count === 0)
    throw new UserError(
      `${options.data}: every corrected digit is held out to validate on; add more corrections (or lower the held-out share)`,
      options.data,
    );

  // MNIST rehearsal from the base run's own training split; its validation split validates.
  const mnist =
    options.mnist ??
    (await loadMnist({
      dataset: baseConfig.dataset,
      dataDir: baseConfig.dataDir ?? undefined,
      mirror: baseConfig.mirror ?? undefined,
    }));
  const split = seededSplitIndices(mnist.train.labels, baseConfig);
  const rehearsalCount = Math.min(settings.rehearsal, split.train.length);
  const picked = stratifiedIndices(
    Uint8Array.from(split.train, (i) => mnist.train.labels[i]),
    rehearsalCount,
    createRng(deriveSeed(settings.seed, 0xf17e, 2)),
  ).picked;
  const rehearsal = withPicturedDigits(
    takeIndices(
      mnist.train,
      Array.from(picked, (j) => split.train[j]),
    ),
    baseConfig.picturedDigits,
    picturedDigitsRng(settings.seed),
  );
  const copies = Math.max(
    1,
    Math.round((settings.userShare / (1 - settings.userShare)) * (rehearsal.count / userTrain.count)),
  );
  const trainSet = concatSets([rehearsal, ...new Array<ImageSet>(copies).fill(userTrain)]);
  const valSet = concatSets([takeIndices(mnist.train, split.val), holdout]);
  const nonDigitImages =
    withNotADigit && config.nonDigits > 0
      ? (options.nonDigitImages ?? (await nonDigitTrainingImages(settings.seed, settings.nonDigitsPerCategory)))
      : undefined;
  log(
    `${corrections.count} corrections (${digits.count} digits, ${holdout.count} held out to validate on; ${perClass[NOT_A_DIGIT]} not a digit); ` +
      `training on ${userTrain.count} x ${copies} among ${rehearsal.count} MNIST images, ${settings.epochs} epochs`,
  );

  const shipped = shippedModelOf(baseDir);
  const record: FinetuneRecord = {
    base: { dir: baseDir, ...(shipped ? { shipped } : {}), weightsSha256: baseMeta.weightsSha256, test: baseMeta.test },
    data: { dir: options.data, sha256: corrections.sha256, perClass },
    holdout: { count: holdout.count, before: await answerScores(model, baseDir, baseMeta, holdout, backend) },
    mix: {
      corrections: userTrain.count,
      copies,
      rehearsal: rehearsal.count,
      share: (userTrain.count * copies) / trainSet.count,
      nonDigitPictures: nonDigitImages?.count ?? 0,
    },
    settings: { ...settings },
  };
  const result = await train({
    config,
    outDir: options.outDir,
    data: mnist,
    reporter: options.reporter,
    updateLatest: options.updateLatest,
    nonDigitImages,
    start: { model, train: trainSet, val: valSet, valIndices: split.val, metadata: { finetune: record } },
  });
  try {
    // The held-out corrections beside the run (for `evaluate --data`, the report), and how the new run answers them.
    await writeFileAtomic(
      join(result.dir, RUN_FILES.holdoutImages),
      writeIdx([holdout.count, IMAGE_SIZE, IMAGE_SIZE], holdout.images),
    );
    await writeFileAtomic(join(result.dir, RUN_FILES.holdoutLabels), writeIdx([holdout.count], holdout.labels));
    record.holdout.after = await answerScores(result.model, result.dir, result.metadata, holdout, backend);
  } finally {
    result.model.dispose();
  }
  const metadata = { ...result.metadata, finetune: record };
  await writeMetadata(result.dir, metadata);
  // Not resumed (see above): its checkpoint would only take room.
  await rm(dirname(join(result.dir, RUN_FILES.checkpoint)), { recursive: true, force: true });
  return { dir: result.dir, metadata, record };
}

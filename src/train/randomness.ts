import type * as tf from '@tensorflow/tfjs';
import type { AugmentBounds } from '../data/augment.js';
import { identityOrder } from '../data/batches.js';
import { createRng, deriveSeed, type Rng } from '../util/rng.js';

/**
 * Every random draw of a training run, each from its own stream derived from the run's seed,
 * so that a run repeats exactly and resumes exactly (a stream depends only on seed, epoch and
 * batch, never on how many draws came before). 1 and 2 are the split's (data/split.ts SPLIT_STREAMS).
 */
const STREAM = { init: 3, shuffle: 4, augment: 5, dropout: 6, nonDigits: 7, picturedDigits: 8 } as const;

/** The seed of a fresh network's initial weights. */
export const initSeed = (seed: number): number => deriveSeed(seed, STREAM.init);

/** Which training digits become pictures, and how each picture looks (`picturedDigits`). */
export const picturedDigitsRng = (seed: number): Rng => createRng(deriveSeed(seed, STREAM.picturedDigits));

/** The order of the training images in an epoch. */
export function epochOrder(seed: number, epoch: number, count: number): Uint32Array {
  return createRng(deriveSeed(seed, STREAM.shuffle, epoch)).shuffle(identityOrder(count));
}

/** The augmentation draws of one batch (undefined: no augmentation). */
export function batchAugmentation(
  seed: number,
  epoch: number,
  batch: number,
  bounds: AugmentBounds & { augment: boolean },
): { rng: Rng; bounds: AugmentBounds } | undefined {
  return bounds.augment ? { rng: createRng(deriveSeed(seed, STREAM.augment, epoch, batch)), bounds } : undefined;
}

/** Which of the `available` non-digit pictures go into a batch (labelled "not a digit"), `count` of them. */
export function nonDigitPicks(
  seed: number,
  epoch: number,
  batch: number,
  available: number,
  count: number,
): Uint32Array {
  const rng = createRng(deriveSeed(seed, STREAM.nonDigits, epoch, batch));
  return Uint32Array.from({ length: count }, () => rng.int(available));
}

/**
 * tfjs-layers' Dropout reuses one seed for every call, which would draw the same mask at every
 * step. Giving it a fresh seed derived from (run seed, epoch, batch) keeps runs repeatable.
 */
export function reseedDropout(model: tf.LayersModel, seed: number, epoch: number, batch: number): void {
  model.layers.forEach((layer, i) => {
    if (layer.getClassName() === 'Dropout')
      (layer as unknown as { seed: number }).seed = deriveSeed(seed, STREAM.dropout, epoch, batch, i);
  });
}

/** The dropout seeds of another training thread's part of the batch (thread 0 uses reseedDropout's). */
export function dropoutSeedsOfThread(
  model: tf.LayersModel,
  seed: number,
  epoch: number,
  batch: number,
  thread: number,
): number[] {
  return model.layers.flatMap((layer, i) =>
    layer.getClassName() === 'Dropout' ? [deriveSeed(seed, STREAM.dropout, epoch, batch, i, thread)] : [],
  );
}

/**
 * What a training run does at each step, wherever it runs: trainer.ts (Node, a run folder,
 * checkpoints) and session.ts (in memory: the page's Train panel in a browser) both build their
 * network and take their optimizer steps here, so that a recipe trains the same way in both.
 */
import type * as tf from '@tensorflow/tfjs';
import type { ModelReplicas } from '../backend/replicas.js';
import type { BatchFiller } from '../data/batches.js';
import type { ImageSet } from '../data/types.js';
import { buildModel } from '../model/architectures.js';
import type { TrainConfig } from './config.js';
import { setLearningRate } from './optimizer.js';
import { batchAugmentation, dropoutSeedsOfThread, initSeed, nonDigitPicks, reseedDropout } from './randomness.js';

/**
 * The network a config trains, with fresh weights from its seed: with the 11th "not a digit"
 * output when it trains with non-digit pictures (`nonDigits` > 0).
 */
export function newModel(config: TrainConfig): tf.Sequential {
  return buildModel(config.arch, initSeed(config.seed), { notADigit: config.nonDigits > 0 });
}

/** What the steps of a run share. */
export interface StepRun {
  config: TrainConfig;
  model: tf.LayersModel;
  optimizer: tf.Optimizer;
  replicas: ModelReplicas;
  /** Fills the replicas' shared batch. */
  filler: BatchFiller;
  trainSet: ImageSet;
  /** Non-digit pictures (28x28 bytes each), `perBatch` of them riding along in every batch (`nonDigits` > 0). */
  nonDigits?: { images: Uint8Array; count: number; perBatch: number };
}

/** Where a step stands: its epoch, its batch in the epoch, the epoch's order of images, and its learning rate. */
export interface StepPlace {
  epoch: number;
  batch: number;
  order: Uint32Array;
  lr: number;
}

/** A step's outcome: how many digits it trained on, their mean loss (NaN when training diverged) and how many it got right. */
export interface StepOutcome {
  n: number;
  loss: number;
  correct: number;
}

/** One optimizer step on all threads: the learning rate, the batch (augmented with its own stream), dropout seeds, the step. */
export async function optimizerStep(run: StepRun, { epoch, batch, order, lr }: StepPlace): Promise<StepOutcome> {
  const { config, model, filler, trainSet, nonDigits } = run;
  setLearningRate(run.optimizer, lr);
  const start = batch * config.batchSize;
  const augment = batchAugmentation(config.seed, epoch, batch, config);
  const n = filler.fill(trainSet, order, start, Math.min(trainSet.count, start + config.batchSize), augment);
  const rows = nonDigits
    ? filler.fillNonDigits(
        nonDigits.images,
        nonDigitPicks(config.seed, epoch, batch, nonDigits.count, nonDigits.perBatch),
        n,
        augment,
      )
    : n;
  reseedDropout(model, config.seed, epoch, batch);
  const step = await run.replicas.step(rows, run.optimizer, config.labelSmoothing, (thread) =>
    dropoutSeedsOfThread(model, config.seed, epoch, batch, thread),
  );
  // A NaN in either loss is reported as NaN.
  // (Non-digit rows add nothing to the plain loss: it is a mean over the n digits.)
  const loss = (Number.isFinite(step.smoothedLoss) ? step.loss : step.smoothedLoss) * (rows === n ? 1 : rows / n);
  return { n, loss, correct: step.correct };
}

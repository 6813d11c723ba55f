import { loadMnist } from '../../src/data/load.js';
import { scalePixels } from '../../src/data/model-input.js';
import { seededSplitIndices, stratifiedSubset, takeIndices } from '../../src/data/split.js';
import type { ImageSet } from '../../src/data/types.js';
import { createRng } from '../../src/util/rng.js';

/** Chance on ten balanced classes: what a baseline that learnt nothing scores. */
export const CHANCE_ERROR = 0.9;

export interface SmallSets {
  train: ImageSet;
  val: ImageSet;
  test: ImageSet;
  /** Their pixels scaled by the model-input contract. */
  x: { train: Float32Array; val: Float32Array; test: Float32Array };
}

/**
 * Real MNIST, small: a stratified `limit` of the training file split as training splits it
 * (one in twelve held out), and a stratified `testCount` of the test file.
 */
export async function smallMnist(limit: number, testCount: number): Promise<SmallSets> {
  const data = await loadMnist();
  const split = seededSplitIndices(data.train.labels, { seed: 1, limit, valCount: null });
  const train = takeIndices(data.train, split.train);
  const val = takeIndices(data.train, split.val);
  const test = stratifiedSubset(data.test, testCount, createRng(5));
  return {
    train,
    val,
    test,
    x: { train: scalePixels(train.images), val: scalePixels(val.images), test: scalePixels(test.images) },
  };
}

export function errorOf(predicted: ArrayLike<number>, labels: ArrayLike<number>): number {
  let wrong = 0;
  for (let i = 0; i < labels.length; i++) if (predicted[i] !== labels[i]) wrong++;
  return wrong / labels.length;
}

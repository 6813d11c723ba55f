import { RandomForestClassifier } from 'ml-random-forest';
import { asRows } from './rows.js';

/**
 * A random forest: ml.js's ml-random-forest (CART trees by ml-cart, each on a bootstrap sample
 * and a random share of the features). Its trees search every split point of a feature by
 * re-partitioning the node's samples, so a tree costs time quadratic in the samples
 * (docs/baselines.md has the measurements). The forest therefore learns from a small stratified
 * subset (baselines.json records how many), on PCA features.
 */

export interface ForestParams {
  trees: number;
  /** Share of the features each tree sees. */
  featureShare: number;
  seed: number;
}

export interface TrainedForest {
  predict(features: Float32Array): number[];
  /** The forest as JSON (ml-random-forest's toJSON). */
  sizeBytes: number;
}

export function trainForest(
  features: Float32Array,
  dims: number,
  labels: ArrayLike<number>,
  params: ForestParams,
): TrainedForest {
  const forest = new RandomForestClassifier({
    nEstimators: params.trees,
    maxFeatures: params.featureShare,
    replacement: false,
    seed: params.seed,
    useSampleBagging: true,
    noOOB: true,
    treeOptions: {},
    isClassifier: true,
  });
  forest.train(asRows(features, dims), Array.from(labels));
  return {
    predict: (x) => forest.predict(asRows(x, dims)),
    sizeBytes: Buffer.byteLength(JSON.stringify(forest.toJSON())),
  };
}

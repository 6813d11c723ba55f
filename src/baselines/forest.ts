import { RandomForestClassifier } from 'ml-random-forest';
import { asRows } from './rows.js';

/**
 * A random forest: ml.js's ml-random-forest (CART trees by ml-cart, each on a bootstrap sample
 * and a random share of the features). Its trees search every split point of a feature by
 * re-partitioning the node's samples, so a tree costs time quadratic in the samples: on 40 PCA
 * features, 20 trees took 32 s of CPU on 1,000 images and 124 s on 2,000, and on the 784 pixels
 * 20 trees on 2,000 images had not finished after 280 s. The forest therefore learns from a small
 * stratified subset (results.ts records how many), on PCA features.
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

export function trainForest(features: Float32Array, dims: number, labels: ArrayLike<number>, params: ForestParams): TrainedForest {
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

import type * as tf from '@tensorflow/tfjs';
import type { ImageSet } from '../../src/data/types.js';
import { Predictor } from '../../src/predict/predictor.js';

/**
 * Class probabilities of a model in memory over an image set, through the one inference path
 * (a Predictor on one thread, closed afterwards; the model is left alone).
 */
export async function probabilitiesOf(model: tf.LayersModel, set: ImageSet, options: { batchSize?: number; tta?: boolean; threads?: number } = {}): Promise<Float32Array> {
  const predictor = await Predictor.fromModel(model, { batchSize: options.batchSize, threads: options.threads ?? 1 });
  try {
    return await predictor.probabilities(set, { tta: options.tta });
  } finally {
    await predictor.close();
  }
}

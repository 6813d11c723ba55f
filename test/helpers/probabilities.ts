import type * as tf from '@tensorflow/tfjs';
import type { RuntimeName } from '../../src/backend/names.js';
import type { ImageSet } from '../../src/data/types.js';
import { Predictor } from '../../src/predict/predictor.js';

/**
 * Class probabilities of a model in memory over an image set, through the one inference path
 * (a Predictor on one thread, closed afterwards; the model is left alone).
 */
export async function probabilitiesOf(model: tf.LayersModel, set: ImageSet, options: { batchSize?: number; tta?: boolean; threads?: number; runtime?: RuntimeName } = {}): Promise<Float32Array> {
  // On TensorFlow.js unless told: the tests that use it compare with TensorFlow.js's own numbers exactly.
  const predictor = await Predictor.fromModel(model, { batchSize: options.batchSize, threads: options.threads ?? 1, runtime: options.runtime ?? 'tfjs' });
  try {
    return await predictor.probabilities(set, { tta: options.tta });
  } finally {
    await predictor.close();
  }
}

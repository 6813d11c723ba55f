import * as tf from '@tensorflow/tfjs';
import { NUM_CLASSES, PIXELS, type ImageSet } from '../data/types.js';
import { BatchFiller, identityOrder } from '../train/batches.js';
import { accuracy, argmaxRows, meanCrossEntropy } from '../evaluate/metrics.js';

/**
 * Class probabilities for every image of a set, in batches: an n x 10 row-major array.
 * Data is read out after each tidy (returning typed arrays from tf.tidy is slow).
 */
export function predictProbabilities(model: tf.LayersModel, set: ImageSet, batchSize = 512): Float32Array {
  const out = new Float32Array(set.count * NUM_CLASSES);
  const filler = new BatchFiller(Math.min(batchSize, Math.max(1, set.count)));
  const order = identityOrder(set.count);
  for (let start = 0; start < set.count; start += batchSize) {
    const end = Math.min(set.count, start + batchSize);
    const n = filler.fill(set, order, start, end);
    const probs = tf.tidy(() => model.predict(tf.tensor4d(filler.x.subarray(0, n * PIXELS), [n, 28, 28, 1])) as tf.Tensor);
    out.set(probs.dataSync(), start * NUM_CLASSES);
    probs.dispose();
  }
  return out;
}

/** Accuracy and mean cross-entropy of probabilities against labels (the evaluation stage's definitions). */
export function accuracyAndLoss(probs: Float32Array, labels: Uint8Array): { accuracy: number; loss: number } {
  return { accuracy: accuracy(labels, argmaxRows(probs)), loss: meanCrossEntropy(probs, labels) };
}

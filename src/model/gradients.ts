import * as tf from '@tensorflow/tfjs';
import { NUM_CLASSES, PIXELS } from '../data/types.js';
import { INPUT_SHAPE } from './architectures.js';

/** The variables an optimizer step updates, in the model's own (stable) order. */
export function trainableVariables(model: tf.LayersModel): tf.Variable[] {
  return model.trainableWeights.map((w) => w.read() as tf.Variable);
}

export interface PartGradients {
  /** One gradient per trainable variable, in `trainableVariables` order. */
  grads: tf.Tensor[];
  /** [sum of plain cross-entropy over the part, correct answers, the part's share of the label-smoothed batch loss]. */
  stats: tf.Tensor1D;
}

/**
 * Gradients of the label-smoothed cross-entropy on rows [from, to) of a batch, scaled by that
 * part's share of the batch: summed over the parts, they are the gradient of the whole batch's
 * mean loss. One thread computes the whole batch with share 1; parallel training gives each
 * thread one part (see backend/replicas.ts). The logits model shares the trained model's weights.
 */
export function partGradients(
  net: tf.LayersModel,
  variables: tf.Variable[],
  batch: { x: Float32Array; y: Int32Array },
  from: number,
  to: number,
  labelSmoothing: number,
  share: number,
): PartGradients {
  return tf.tidy(() => {
    const n = to - from;
    const xs = tf.tensor4d(batch.x.subarray(from * PIXELS, to * PIXELS), [n, ...INPUT_SHAPE]);
    const labels = tf.tensor1d(batch.y.subarray(from, to), 'int32');
    const ys = tf.oneHot(labels, NUM_CLASSES);
    let readout: tf.Tensor[] = [];
    const { value, grads } = tf.variableGrads(() => {
      const logits = net.apply(xs, { training: true }) as tf.Tensor2D;
      // Read out alongside the step, off the path to the loss (no gradient flows through them).
      // (Kept: variableGrads disposes everything else made in here.)
      readout = [
        tf.mul(tf.losses.softmaxCrossEntropy(ys, logits), n),
        tf.cast(tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), labels), 'int32')), 'float32'),
      ].map((t) => tf.keep(t));
      const loss = tf.losses.softmaxCrossEntropy(ys, logits, undefined, labelSmoothing) as tf.Scalar;
      return share === 1 ? loss : tf.mul(loss, share);
    }, variables);
    const stats = tf.stack([...readout, value]) as tf.Tensor1D;
    tf.dispose(readout);
    return { grads: variables.map((v) => grads[v.name]), stats };
  });
}

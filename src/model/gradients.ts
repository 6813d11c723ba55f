import * as tf from '@tensorflow/tfjs';
import { INPUT_SHAPE, NOT_A_DIGIT, NUM_CLASSES, PIXELS } from '../data/types.js';
import { UserError } from '../util/errors.js';
import { outputCount } from './architectures.js';

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

function countNonDigits(y: Int32Array, from: number, to: number): number {
  let count = 0;
  for (let i = from; i < to; i++) if (y[i] === NOT_A_DIGIT) count++;
  return count;
}

/**
 * The loss of a part that holds non-digit rows (label NOT_A_DIGIT), for a model with the 11th
 * "not a digit" output: cross-entropy over the eleven outputs, a mean over all rows. Digit rows
 * aim at their label smoothed over the ten digits only (none of the smoothing goes to the
 * not-a-digit output: a digit is never a bit of a non-digit); non-digit rows at the 11th output.
 * `isDigitRow` is 1 for a digit row, 0 for a non-digit (the readout's mask, computed once).
 * (A ten-output model takes the plain path, so runs without non-digits train exactly as before.)
 */
function notADigitLoss(
  logits: tf.Tensor2D,
  labels: tf.Tensor1D,
  isDigitRow: tf.Tensor1D,
  labelSmoothing: number,
): tf.Scalar {
  const isDigit = tf.reshape(isDigitRow, [-1, 1]);
  const digitColumns = tf.concat([tf.ones([1, NUM_CLASSES]), tf.zeros([1, 1])], 1);
  const smoothing = tf.mul(isDigit, labelSmoothing);
  const targets = tf.add(
    tf.mul(tf.oneHot(labels, NUM_CLASSES + 1), tf.sub(1, smoothing)),
    tf.mul(tf.mul(smoothing, digitColumns), 1 / NUM_CLASSES),
  );
  return tf.mean(tf.neg(tf.sum(tf.mul(targets, tf.logSoftmax(logits)), 1))) as tf.Scalar;
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
    const outputs = outputCount(net);
    // A model with the not-a-digit output always takes its own loss (even on a part that happens to
    // hold no non-digit rows: the plain loss would smooth labels onto the 11th output).
    const withNotADigit = outputs === NUM_CLASSES + 1;
    if (!withNotADigit && countNonDigits(batch.y, from, to) > 0)
      throw new UserError(
        `the model has ${outputs} outputs and no "not a digit" output: it cannot train on non-digit pictures (runs trained with non-digits before the 11th output used outlier exposure; train a new run)`,
      );
    const ys = tf.oneHot(labels, outputs);
    let readout: tf.Tensor[] = [];
    const { value, grads } = tf.variableGrads(() => {
      const logits = net.apply(xs, { training: true }) as tf.Tensor2D;
      // Read out alongside the step, off the path to the loss (no gradient flows through them):
      // the plain cross-entropy summed over the digit rows, and how many of those were right.
      // (Kept: variableGrads disposes everything else made in here.)
      const hits = tf.cast(tf.equal(tf.argMax(logits, 1), labels), 'float32');
      const isDigit = withNotADigit ? (tf.cast(tf.less(labels, NUM_CLASSES), 'float32') as tf.Tensor1D) : undefined;
      readout = (
        isDigit
          ? [
              tf.sum(tf.losses.softmaxCrossEntropy(ys, logits, isDigit, 0, tf.Reduction.NONE)),
              tf.sum(tf.mul(hits, isDigit)),
            ]
          : [tf.mul(tf.losses.softmaxCrossEntropy(ys, logits), n), tf.sum(hits)]
      ).map((t) => tf.keep(t));
      const loss = isDigit
        ? notADigitLoss(logits, labels, isDigit, labelSmoothing)
        : (tf.losses.softmaxCrossEntropy(ys, logits, undefined, labelSmoothing) as tf.Scalar);
      return share === 1 ? loss : tf.mul(loss, share);
    }, variables);
    const stats = tf.stack([...readout, value]) as tf.Tensor1D;
    tf.dispose(readout);
    return { grads: variables.map((v) => grads[v.name]), stats };
  });
}

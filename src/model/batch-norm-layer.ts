import * as tf from '@tensorflow/tfjs';

/**
 * The name of the kernel that gives a training batch norm's gradients in one go (inputs x, dy,
 * mean, variance, scale; attr varianceEpsilon; outputs dx, dscale, doffset). The wasm backend
 * registers it (backend/batch-norm.ts); elsewhere the gradient is composed of plain ops.
 */
export const BATCH_NORM_TRAINING_GRAD = 'BatchNormTrainingGrad';

/** The stock tfjs-layers class, found by its serialisation name (tfjs exports only a factory). */
type BatchNormArgs = NonNullable<Parameters<typeof tf.layers.batchNormalization>[0]>;
type BatchNormClass = new (args?: BatchNormArgs) => tf.layers.Layer;
const Stock = tf.serialization.SerializationMap.getMap().classNameMap
  .BatchNormalization[0] as unknown as BatchNormClass;

interface StockFields {
  axis: number;
  momentum: number;
  epsilon: number;
  center: boolean;
  scale: boolean;
  gamma: tf.LayerVariable;
  beta: tf.LayerVariable;
  movingMean: tf.LayerVariable;
  movingVariance: tf.LayerVariable;
}

/** Every axis but the last (the channels): those a batch norm over the channels reduces. */
const leadingAxes = (x: tf.Tensor) => x.shape.slice(0, -1).map((_, i) => i);

/**
 * Training batch norm over the last axis, y = (x - mean) · gamma / √(variance + ε) + beta with the
 * batch's own mean and variance, whose gradient is one op: the whole backward pass of the
 * normalisation, moments included,
 *   dx = gamma / σ · (dy - mean(dy) - x̂ · mean(dy · x̂)),  dgamma = Σ dy · x̂,  dbeta = Σ dy,
 * where tfjs differentiated the moments and the normalisation op by op (some twenty
 * activation-sized ops per layer). The forward pass is tfjs's own (tf.moments, tf.batchNorm).
 */
function trainingBatchNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, epsilon: number) {
  // The moments are computed out here, in the caller's scope: customGrad runs its function in a
  // tidy of its own, which would free them before the moving averages read them. Inside, they are
  // constants: the gradient flows through the fused op alone (they reach the loss only through it).
  const { mean, variance } = tf.moments(x, leadingAxes(x));
  const normalise = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [input, scale, offset] = args as tf.Tensor[];
    const save = args[3] as tf.GradSaveFunc;
    save([input, mean, variance, scale]);
    return {
      value: tf.batchNorm(input, mean, variance, offset, scale, epsilon),
      gradFunc: (dy, saved) => batchNormGradients(dy as tf.Tensor, saved, epsilon),
    };
  });
  return { y: normalise(x, gamma, beta), mean, variance };
}

/** [dx, dgamma, dbeta] of trainingBatchNorm: one kernel where the backend has it, plain ops otherwise. */
export function batchNormGradients(dy: tf.Tensor, saved: tf.Tensor[], epsilon: number): tf.Tensor[] {
  const [x, mean, variance, scale] = saved;
  if (tf.getKernel(BATCH_NORM_TRAINING_GRAD, tf.getBackend()))
    return tf
      .engine()
      .runKernel<tf.Tensor[]>(BATCH_NORM_TRAINING_GRAD, { x, dy, mean, variance, scale }, { varianceEpsilon: epsilon });
  return tf.tidy(() => {
    const axes = leadingAxes(x);
    const n = x.size / x.shape[x.shape.length - 1];
    const invStd = tf.rsqrt(tf.add(variance, epsilon));
    const normalised = tf.mul(tf.sub(x, mean), invStd);
    const dBeta = tf.sum(dy, axes);
    const dGamma = tf.sum(tf.mul(dy, normalised), axes);
    const dx = tf.mul(
      tf.sub(tf.sub(dy, tf.div(dBeta, n)), tf.mul(normalised, tf.div(dGamma, n))),
      tf.mul(scale, invStd),
    );
    return [dx, dGamma, dBeta];
  });
}

/**
 * tfjs-layers' BatchNormalization with the fused training gradient above; inference, the
 * weights, the config and the serialised class name are the stock layer's, so saved models load
 * anywhere. Registered under that name, it is also what every loaded model gets in this process.
 * Layers it does not cover (another axis, no centre or scale) take the stock path.
 */
export class BatchNormalization extends Stock {
  static className = 'BatchNormalization';

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: { training?: boolean }): tf.Tensor | tf.Tensor[] {
    const input = Array.isArray(inputs) ? inputs[0] : inputs;
    const self = this as unknown as StockFields;
    const lastAxis = self.axis === -1 || self.axis === input.rank - 1;
    if (!kwargs.training || !lastAxis || !self.center || !self.scale || input.dtype !== 'float32')
      return super.call(inputs, kwargs);
    return tf.tidy(() => {
      const { y, mean, variance } = trainingBatchNorm(input, self.gamma.read(), self.beta.read(), self.epsilon);
      // The moving statistics as the stock layer keeps them: m ← m - (m - batch) · (1 - momentum).
      for (const [moving, batch] of [
        [self.movingMean, mean],
        [self.movingVariance, variance],
      ] as const) {
        tf.tidy(() => {
          const old = moving.read();
          moving.write(tf.sub(old, tf.mul(tf.sub(old, batch), 1 - self.momentum)));
        });
      }
      return y;
    });
  }
}
tf.serialization.SerializationMap.register(
  BatchNormalization as unknown as tf.serialization.SerializableConstructor<tf.layers.Layer>,
);

/** A batch-norm layer with the fused training gradient (the architectures build theirs with it). */
export function batchNormalization(args: BatchNormArgs): tf.layers.Layer {
  return new BatchNormalization(args);
}

/**
 * Saliency (Simonyan et al. 2014, "vanilla gradients"): how much each input pixel moves the
 * probability of one class, |d p(class) / d pixel|, computed by TensorFlow.js's tf.grad through
 * the model's own layers (on the wasm backend, with our Conv2DBackpropInput and MaxPoolGrad
 * kernels: backend/wasm-kernels.ts). Bright pixels are those the answer is most sensitive to.
 * Optionally SmoothGrad: the same, averaged over noisy copies of the input.
 */
import * as tf from '@tensorflow/tfjs';

export interface Saliency {
  /** n maps of |gradient|, each the size of one input (784 for 28x28x1). */
  maps: Float32Array;
  /** The class each map is about (the predicted one unless given). */
  classes: number[];
  /** That class's probability for each input. */
  probabilities: number[];
}

export interface SaliencyOptions {
  /** The class of each input (default: the predicted one). */
  classes?: readonly number[];
  batchSize?: number;
  /**
   * SmoothGrad (Smilkov et al. 2017): the mean |gradient| over `samples` copies of each input
   * with Gaussian noise of standard deviation `sigma` (in the input's units) added, drawn from
   * `seed`. Less speckled maps, `samples` times the work. Default: the plain gradient.
   */
  smooth?: { samples: number; sigma: number; seed: number };
}

/**
 * The saliency maps of `n` inputs (n * 784 values at the model's scale): for each, the
 * gradient's absolute value of the probability of `classes[i]` (default: the predicted class)
 * with respect to the input. In batches; every tensor is disposed.
 */
export function saliencyMaps(
  model: tf.LayersModel,
  inputs: Float32Array,
  n: number,
  options: SaliencyOptions = {},
): Saliency {
  const inputShape = model.inputs[0].shape.slice(1).map((d) => d ?? 1);
  const perImage = inputShape.reduce((a, b) => a * b, 1);
  if (!Number.isInteger(n) || n < 0 || inputs.length !== n * perImage)
    throw new Error(`${inputs.length} input values are not ${n} inputs of ${perImage}`);
  if (options.classes && options.classes.length !== n)
    throw new Error(`${options.classes.length} classes given for ${n} inputs`);
  const maps = new Float32Array(n * perImage);
  const classes: number[] = [];
  const probabilities: number[] = [];
  const batchSize = Math.max(1, options.batchSize ?? 64);
  for (let from = 0; from < n; from += batchSize) {
    const count = Math.min(batchSize, n - from);
    const [gradient, picked, chosen] = tf.tidy(() => {
      const x = tf.tensor(inputs.subarray(from * perImage, (from + count) * perImage), [count, ...inputShape]);
      const given = options.classes?.slice(from, from + count);
      const which = given ? tf.tensor1d(given, 'int32') : tf.argMax(model.predict(x) as tf.Tensor2D, 1).toInt();
      const mask = tf.oneHot(which, (model.outputs[0].shape as number[])[1]);
      // The inputs are independent: the gradient of the sum is each input's own gradient.
      const probabilityOf = (input: tf.Tensor) =>
        tf.sum(tf.mul(model.apply(input, { training: false }) as tf.Tensor2D, mask));
      const gradientOf = tf.grad(probabilityOf);
      const smooth = options.smooth;
      let map: tf.Tensor;
      if (!smooth || smooth.samples < 1) {
        map = tf.abs(gradientOf(x));
      } else {
        map = tf.zerosLike(x);
        for (let s = 0; s < smooth.samples; s++) {
          const noisy = tf.add(x, tf.randomNormal(x.shape, 0, smooth.sigma, 'float32', smooth.seed + s * 7919 + from));
          map = tf.add(map, tf.abs(gradientOf(noisy)));
        }
        map = tf.div(map, smooth.samples);
      }
      const probs = tf.sum(tf.mul(model.predict(x) as tf.Tensor2D, mask), 1);
      return [map, probs, which];
    });
    try {
      maps.set(gradient.dataSync(), from * perImage);
      probabilities.push(...Array.from(picked.dataSync()));
      classes.push(...Array.from(chosen.dataSync()));
    } finally {
      tf.dispose([gradient, picked, chosen]);
    }
  }
  return { maps, classes, probabilities };
}

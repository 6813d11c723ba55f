import * as tf from '@tensorflow/tfjs';
import type { RuntimeName } from '../../src/backend/names.js';
import { NUM_CLASSES, PIXELS } from '../../src/data/types.js';
import {
  compareProbabilities,
  createOnnxSession,
  onnxProbabilities,
  tfjsProbabilities,
} from '../../src/export/verify.js';
import { logitsModel } from '../../src/model/architectures.js';
import type { ImageSet } from '../../src/data/types.js';
import { Predictor } from '../../src/predict/predictor.js';

/**
 * Class probabilities of a model in memory over an image set, through the one inference path
 * (a Predictor on one thread, closed afterwards; the model is left alone).
 */
export async function probabilitiesOf(
  model: tf.LayersModel,
  set: ImageSet,
  options: { batchSize?: number; tta?: boolean; threads?: number; runtime?: RuntimeName } = {},
): Promise<Float32Array> {
  // On TensorFlow.js unless told: the tests that use it compare with TensorFlow.js's own numbers exactly.
  const predictor = await Predictor.fromModel(model, {
    batchSize: options.batchSize,
    threads: options.threads ?? 1,
    runtime: options.runtime ?? 'tfjs',
  });
  try {
    return await predictor.probabilities(set, { tta: options.tta });
  } finally {
    await predictor.close();
  }
}

/** softmax(logits / t) of the first `count` of `images` (28x28x1 at the model's scale), from the logits TensorFlow.js computes: the reference for a folded-in temperature. */
export function softmaxOfLogits(model: tf.LayersModel, images: Float32Array, count: number, t: number): Float32Array {
  const logits = logitsModel(model);
  return tf.tidy(() => {
    const x = tf.tensor(images.subarray(0, count * PIXELS), [count, 28, 28, 1]);
    return tf.softmax(tf.div(logits.predict(x) as tf.Tensor, t)).dataSync() as Float32Array;
  });
}

/** ONNX Runtime's probabilities for the model in `bytes` on the first `count` of `images` (28x28x1 at the model's scale), in a session of its own. */
export async function onnxRuntimeProbabilities(
  bytes: Uint8Array,
  images: Float32Array,
  count: number,
): Promise<Float32Array> {
  const session = await createOnnxSession(bytes);
  try {
    return await onnxProbabilities(session, [28, 28, 1], images, count);
  } finally {
    await session.release();
  }
}

/** ONNX Runtime's (on `bytes`) and TensorFlow.js's (on `model`) probabilities on the first `count` of `images`, compared. */
export async function onnxAgainstTfjs(bytes: Uint8Array, model: tf.LayersModel, images: Float32Array, count: number) {
  const ours = await onnxRuntimeProbabilities(bytes, images, count);
  const reference = tfjsProbabilities(model, images, count);
  return { ours, reference, ...compareProbabilities(ours, reference, NUM_CLASSES) };
}

/**
 * The served model, run in this browser with TensorFlow.js. Loaded only when asked for: this
 * module and TensorFlow.js form a separate chunk of the bundle, fetched on first use.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { loadLayersModel, type LayersModel } from '@tensorflow/tfjs-layers';

export interface BrowserModel {
  /** The ten class probabilities for one preprocessed 28x28 input. */
  probabilities(input: Float32Array): number[];
}

/**
 * One 28x28 image per call: the plain-JavaScript 'cpu' backend answers in milliseconds and needs
 * no GPU (nor WebGL in a headless browser).
 */
export async function loadBrowserModel(url = '/model/model.json'): Promise<BrowserModel> {
  await tf.setBackend('cpu');
  await tf.ready();
  const model: LayersModel = await loadLayersModel(url);
  const [, height, width, channels] = model.inputs[0].shape as number[];
  return {
    probabilities(input: Float32Array): number[] {
      const output = tf.tidy(() => model.predict(tf.tensor4d(input, [1, height, width, channels])) as tf.Tensor);
      const values = Array.from(output.dataSync());
      output.dispose();
      return values;
    },
  };
}

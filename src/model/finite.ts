/**
 * Finding NaN and ±Infinity in weights. A model with one non-finite weight answers garbage
 * (on wasm, ReLU even turns NaN into 0, so it may look merely bad), so weights are checked when
 * a model or a checkpoint is loaded and while training.
 */
import type * as tf from '@tensorflow/tfjs';

function allFinite(values: ArrayLike<number>): boolean {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return false;
  return true;
}

/**
 * The name of the first float32 entry of a weights buffer (TensorFlow.js weights manifest
 * layout: entries back to back, 4 bytes a value) that holds NaN or ±Infinity. The buffer's size
 * must already match the entries.
 */
export function nonFiniteEntry(data: ArrayBuffer, specs: tf.io.WeightsManifestEntry[]): string | undefined {
  let offset = 0;
  for (const spec of specs) {
    const count = spec.shape.reduce((a, b) => a * b, 1);
    if ((spec.dtype ?? 'float32') === 'float32' && !allFinite(new Float32Array(data, offset, count))) return spec.name;
    offset += 4 * count;
  }
  return undefined;
}

/** The name of the first weight of a model (trainable or not: batch-norm statistics too) that holds NaN or ±Infinity. */
export function nonFiniteWeight(model: tf.LayersModel): string | undefined {
  for (const weight of model.weights) {
    if (weight.dtype === 'float32' && !allFinite(weight.read().dataSync())) return weight.originalName;
  }
  return undefined;
}

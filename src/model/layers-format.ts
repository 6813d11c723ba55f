import type * as tf from '@tensorflow/tfjs';

/**
 * A model's files in the TensorFlow.js layers format, as every run folder holds them (what
 * `tf.loadLayersModel` reads in a browser as they are): model.json, and all the weights in one
 * weights.bin beside it. Free of Node's modules and of TensorFlow.js itself: io.ts writes them
 * into a folder, the page's Train panel hands them to a person as downloads.
 */
export const MODEL_FILE = 'model.json';
export const WEIGHTS_FILE = 'weights.bin';

/** model.json for a model's artifacts (what `model.save` hands an IOHandler). */
export function layersModelJson(artifacts: tf.io.ModelArtifacts): object {
  return {
    format: artifacts.format ?? 'layers-model',
    generatedBy: artifacts.generatedBy,
    convertedBy: artifacts.convertedBy ?? null,
    modelTopology: artifacts.modelTopology,
    weightsManifest: [{ paths: [`./${WEIGHTS_FILE}`], weights: artifacts.weightSpecs ?? [] }],
  };
}

/** weights.bin: every weight, back to back. */
export function weightsBin(artifacts: tf.io.ModelArtifacts): Uint8Array {
  const parts =
    artifacts.weightData === undefined
      ? []
      : Array.isArray(artifacts.weightData)
        ? artifacts.weightData
        : [artifacts.weightData];
  const bytes = new Uint8Array(parts.reduce((sum, part) => sum + part.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    bytes.set(new Uint8Array(part), offset);
    offset += part.byteLength;
  }
  return bytes;
}

import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { writeFileAtomic, writeJsonAtomic } from '../util/fs.js';
import { UserError } from '../util/errors.js';

export const MODEL_FILE = 'model.json';
export const WEIGHTS_FILE = 'weights.bin';

function joinWeightData(data: tf.io.WeightData | undefined): ArrayBuffer {
  if (!data) return new ArrayBuffer(0);
  return Array.isArray(data) ? tf.io.concatenateArrayBuffers(data) : data;
}

/**
 * An IOHandler that writes `model.json` + `weights.bin` in the TensorFlow.js layers format
 * (what `tf.loadLayersModel` reads in a browser, as-is), each under a temporary name renamed
 * into place. tfjs-node's `file://` handler is not available without the native binary.
 */
function dirSaveHandler(dir: string): tf.io.IOHandler {
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      const weights = new Uint8Array(joinWeightData(artifacts.weightData));
      const modelJson = {
        format: artifacts.format ?? 'layers-model',
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy ?? null,
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: [`./${WEIGHTS_FILE}`], weights: artifacts.weightSpecs ?? [] }],
      };
      // Weights first: a model.json never points at weights that are not yet there.
      await writeFileAtomic(join(dir, WEIGHTS_FILE), weights);
      await writeJsonAtomic(join(dir, MODEL_FILE), modelJson);
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },
  };
}

function dirLoadHandler(dir: string): tf.io.IOHandler {
  return {
    async load(): Promise<tf.io.ModelArtifacts> {
      const modelPath = join(dir, MODEL_FILE);
      const weightsPath = join(dir, WEIGHTS_FILE);
      for (const path of [modelPath, weightsPath]) {
        if (!existsSync(path)) throw new UserError(`${path} is missing: not a saved model folder`, path);
      }
      let json: { modelTopology?: object; weightsManifest?: { weights: tf.io.WeightsManifestEntry[] }[]; format?: string };
      try {
        json = JSON.parse(await readFile(modelPath, 'utf8'));
      } catch (err) {
        throw new UserError(`${modelPath}: not valid JSON (${(err as Error).message})`, modelPath);
      }
      if (!json.modelTopology || !Array.isArray(json.weightsManifest)) {
        throw new UserError(`${modelPath}: has no modelTopology or weightsManifest: not a TensorFlow.js layers model`, modelPath);
      }
      const weightSpecs = json.weightsManifest.flatMap((group) => group.weights);
      const buffer = await readFile(weightsPath);
      const expected = weightSpecs.reduce((sum, spec) => sum + 4 * spec.shape.reduce((a, b) => a * b, 1), 0);
      if (buffer.byteLength !== expected) {
        throw new UserError(`${weightsPath}: is ${buffer.byteLength} bytes, but ${MODEL_FILE} describes ${expected} bytes of weights`, weightsPath);
      }
      const weightData = buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength);
      return { modelTopology: json.modelTopology, weightSpecs, weightData, format: json.format };
    },
  };
}

export async function saveModel(model: tf.LayersModel, dir: string): Promise<void> {
  await model.save(dirSaveHandler(dir));
}

export async function loadModel(dir: string): Promise<tf.LayersModel> {
  return tf.loadLayersModel(dirLoadHandler(dir));
}

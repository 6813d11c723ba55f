import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { readRegularFile, writeFileAtomic, writeJsonAtomic } from '../util/fs.js';
import { UserError } from '../util/errors.js';
import { nonFiniteEntry } from './finite.js';
import { layersModelJson, MODEL_FILE, WEIGHTS_FILE, weightsBin } from './layers-format.js';
import { sha256Hex } from './model-files.js';

/**
 * An IOHandler that writes `model.json` + `weights.bin` in the TensorFlow.js layers format
 * (what `tf.loadLayersModel` reads in a browser, as-is), each under a temporary name renamed
 * into place. tfjs-node's `file://` handler is not available without the native binary.
 */
function dirSaveHandler(dir: string): tf.io.IOHandler {
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      // Weights first: a model.json never points at weights that are not yet there.
      await writeFileAtomic(join(dir, WEIGHTS_FILE), weightsBin(artifacts));
      await writeJsonAtomic(join(dir, MODEL_FILE), layersModelJson(artifacts));
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },
  };
}

export interface LoadModelOptions {
  /**
   * The SHA-256 (hex) weights.bin must have, as its run's metadata.json records it: a file
   * changed or damaged since is refused. Unchecked when absent (runs made before it was recorded).
   */
  weightsSha256?: string;
}

/**
 * Reads model.json and weights.bin, refusing (naming the file) a missing file, bad JSON, a
 * weights.bin of the wrong size, weights that are NaN or infinite (a diverged run, or a damaged
 * file) and, when told the checksum, a weights.bin that is not the one recorded.
 */
function dirLoadHandler(dir: string, options: LoadModelOptions): tf.io.IOHandler {
  return {
    async load(): Promise<tf.io.ModelArtifacts> {
      const modelPath = join(dir, MODEL_FILE);
      const weightsPath = join(dir, WEIGHTS_FILE);
      for (const path of [modelPath, weightsPath]) {
        if (!existsSync(path)) throw new UserError(`${path} is missing: not a saved model folder`, path);
      }
      // Each read names its own file: a weights.bin that cannot be read, or is a folder or a FIFO
      // (which would block for good), is a weights.bin error, not a model.json one.
      const modelText = (await readRegularFile(modelPath, 'the model')).toString('utf8');
      let json: {
        modelTopology?: object;
        weightsManifest?: { weights: tf.io.WeightsManifestEntry[] }[];
        format?: string;
      };
      try {
        json = JSON.parse(modelText) as typeof json;
      } catch (err) {
        throw new UserError(`${modelPath}: not valid JSON (${(err as Error).message})`, modelPath);
      }
      if (typeof json !== 'object' || json === null || !json.modelTopology || !Array.isArray(json.weightsManifest)) {
        throw new UserError(
          `${modelPath}: has no modelTopology or weightsManifest: not a TensorFlow.js layers model`,
          modelPath,
        );
      }
      const weightSpecs = json.weightsManifest.flatMap((group) => group?.weights ?? []);
      if (
        !weightSpecs.every(
          (spec) =>
            typeof spec?.name === 'string' &&
            Array.isArray(spec.shape) &&
            spec.shape.every((n) => Number.isSafeInteger(n) && n >= 0),
        )
      ) {
        throw new UserError(
          `${modelPath}: its weightsManifest is damaged (an entry without a name or a shape)`,
          modelPath,
        );
      }
      const buffer = await readRegularFile(weightsPath, 'the weights');
      const expected = weightSpecs.reduce((sum, spec) => sum + 4 * spec.shape.reduce((a, b) => a * b, 1), 0);
      if (buffer.byteLength !== expected) {
        throw new UserError(
          `${weightsPath}: is ${buffer.byteLength} bytes, but ${MODEL_FILE} describes ${expected} bytes of weights`,
          weightsPath,
        );
      }
      const weightData = buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength);
      const broken = nonFiniteEntry(weightData, weightSpecs);
      if (broken !== undefined) {
        throw new UserError(
          `${weightsPath}: the weights of ${broken} are NaN or infinite: the model is broken (a training that diverged, or a damaged file)`,
          weightsPath,
        );
      }
      if (options.weightsSha256 !== undefined) {
        const actual = sha256Hex(buffer);
        if (actual !== options.weightsSha256) {
          throw new UserError(
            `${weightsPath}: its SHA-256 is ${actual}, but metadata.json records ${options.weightsSha256}: the weights were changed or damaged since the run was saved`,
            weightsPath,
          );
        }
      }
      return { modelTopology: json.modelTopology, weightSpecs, weightData, format: json.format };
    },
  };
}

export async function saveModel(model: tf.LayersModel, dir: string): Promise<void> {
  await model.save(dirSaveHandler(dir));
}

/** Load a saved model folder (see dirLoadHandler for what is refused). The backend must be started first. */
export async function loadModel(dir: string, options: LoadModelOptions = {}): Promise<tf.LayersModel> {
  try {
    return await tf.loadLayersModel(dirLoadHandler(dir, options));
  } catch (err) {
    if (err instanceof UserError) throw err;
    // The files read, but TensorFlow.js cannot build a model from them: a damaged or foreign model.json.
    const path = join(dir, MODEL_FILE);
    throw new UserError(`${path}: not a model TensorFlow.js can build (${(err as Error).message})`, path);
  }
}

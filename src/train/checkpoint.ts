/**
 * The checkpoint of a training (`checkpoints/last/`): the model, the optimizer's state, where
 * training stands and the config it ran with, enough to continue exactly. It is replaced as a
 * whole (a new folder beside it, renamed in), recovered when a crash came between the renames,
 * and refused, naming the file, when a file of it is damaged.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { nonFiniteEntry } from '../model/finite.js';
import { loadModel, saveModel } from '../model/io.js';
import { MODEL_FILE, WEIGHTS_FILE } from '../model/model-files.js';
import { syncFolder, writeFileAtomic, writeJsonAtomic } from '../util/fs.js';
import { asUserError, UserError } from '../util/errors.js';
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
  /** The best epoch's validation accuracy (training accuracy without a validation split). */
  bestValAccuracy: number;
  /**
   * The best epoch's validation loss at its own fitted temperature (training loss without a
   * validation split): what picks the best epoch (trainer.ts). Null before the first epoch; taken
   * from the history (the plain validation loss, an upper bound of the calibrated one) when
   * resuming a checkpoint written before it was recorded.
   */
  bestValLoss: number | null;
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
    bestValLoss: null,
    epochsWithoutImprovement: 0,
    trainingSeconds: 0,
    partial: { loss: 0, correct: 0, seen: 0, seconds: 0 },
  };
}

const STATE_FILE = 'state.json';
const OPTIMIZER_JSON = 'optimizer.json';
const OPTIMIZER_BIN = 'optimizer.bin';
/** The config the checkpoint was trained with, to tell a config.json changed since. */
const CONFIG_FILE = 'config.json';
/** Written last: a folder that has it is complete. */
const COMPLETE_WITH = [MODEL_FILE, WEIGHTS_FILE, OPTIMIZER_BIN, OPTIMIZER_JSON, STATE_FILE];

/** The folders a save makes beside the checkpoint `last`: `last.tmp-PID` (being written) and `last.old-PID` (the previous one, until the new one is in). */
function copiesBeside(dir: string, names: string[]): string[] {
  const prefixes = [`${basename(dir)}.tmp-`, `${basename(dir)}.old-`];
  return names
    .filter((name) => prefixes.some((prefix) => name.startsWith(prefix)))
    .map((name) => join(dirname(dir), name));
}

async function namesIn(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch {
    return [];
  }
}

/**
 * Save model, optimizer state, TrainState and the config into `dir`, as a whole: everything
 * goes into a fresh folder beside it, flushed to the disk, which then replaces the old
 * checkpoint by renames. Copies left beside it by a process that died are removed first (the
 * caller holds the run's lock, so no other process is writing them). A failure (a full disk)
 * removes the new folder, keeps the old checkpoint and says so.
 */
export async function saveCheckpoint(
  dir: string,
  model: tf.LayersModel,
  optimizer: tf.Optimizer,
  state: TrainState,
  config: object,
): Promise<void> {
  const tmp = `${dir}.tmp-${process.pid}`;
  const old = `${dir}.old-${process.pid}`;
  try {
    await mkdir(dirname(dir), { recursive: true });
    for (const stale of copiesBeside(dir, await namesIn(dirname(dir))))
      await rm(stale, { recursive: true, force: true });
    await mkdir(tmp, { recursive: true });
    await saveModel(model, tmp);
    const weights = await optimizer.getWeights();
    const { data, specs } = await tf.io.encodeWeights(weights);
    await writeFileAtomic(join(tmp, OPTIMIZER_BIN), new Uint8Array(data));
    await writeJsonAtomic(join(tmp, OPTIMIZER_JSON), {
      className: optimizer.getClassName(),
      config: optimizer.getConfig(),
      specs,
    });
    await writeJsonAtomic(join(tmp, CONFIG_FILE), config);
    await writeJsonAtomic(join(tmp, STATE_FILE), state);
    await syncFolder(tmp);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    const kept = existsSync(dir) ? `; the previous checkpoint ${dir} is kept` : '';
    const failure = asUserError(err, 'save the checkpoint', dir);
    if (failure instanceof UserError) throw new UserError(`${failure.message}${kept}`, dir);
    throw failure;
  }
  if (existsSync(dir)) await rename(dir, old);
  await rename(tmp, dir);
  await syncFolder(dirname(dir));
  await rm(old, { recursive: true, force: true });
}

/** The step a complete checkpoint copy stands at, or undefined when the copy is incomplete or unreadable. */
async function completeCopyStep(dir: string): Promise<number | undefined> {
  if (!COMPLETE_WITH.every((file) => existsSync(join(dir, file)))) return undefined;
  try {
    const state = JSON.parse(await readFile(join(dir, STATE_FILE), 'utf8')) as TrainState;
    return Number.isSafeInteger(state.step) ? state.step : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Put the checkpoint `dir` back in order before a resume (under the run's lock): when a crash
 * came between moving the old checkpoint aside and moving the new one in, `dir` is missing but
 * a complete copy is beside it; the furthest complete copy becomes `dir`. Then every copy left
 * beside it is removed, so a run stopped by a full disk gets that space back. Returns what was
 * done, for the user, or undefined when there was nothing to do.
 */
export async function recoverCheckpoint(dir: string): Promise<string | undefined> {
  const copies = copiesBeside(dir, await namesIn(dirname(dir)));
  if (copies.length === 0) return undefined;
  let recovered: string | undefined;
  if (!existsSync(dir)) {
    let best: { path: string; step: number } | undefined;
    for (const path of copies) {
      const step = await completeCopyStep(path);
      if (step !== undefined && (!best || step > best.step)) best = { path, step };
    }
    if (best) {
      await rename(best.path, dir);
      await syncFolder(dirname(dir));
      recovered = best.path;
    }
  }
  for (const path of copies) if (path !== recovered) await rm(path, { recursive: true, force: true });
  const removed = copies.length - (recovered ? 1 : 0);
  const parts = [
    ...(recovered ? [`recovered the checkpoint from ${recovered} (a save was cut short)`] : []),
    ...(removed > 0
      ? [`removed ${removed} unfinished checkpoint cop${removed === 1 ? 'y' : 'ies'} beside ${dir}`]
      : []),
  ];
  return parts.join('; ');
}

/** The config a checkpoint was trained with, or undefined for a checkpoint saved before it was recorded. */
export async function readCheckpointConfig(dir: string): Promise<Record<string, unknown> | undefined> {
  const path = join(dir, CONFIG_FILE);
  if (!existsSync(path)) return undefined;
  const value = await readJson(path);
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new UserError(`${path}: must hold a JSON object of config keys`, path);
  return value as Record<string, unknown>;
}

export interface LoadedCheckpoint {
  model: tf.LayersModel;
  state: TrainState;
  optimizerWeights: { name: string; tensor: tf.Tensor }[];
}

async function readJson(path: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new UserError(`${path}: not valid JSON (${(err as Error).message})`, path);
  }
}

const isWhole = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;
const isFiniteNumber = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

/** A state.json read back: every field there and of its type, or a UserError naming the file and the field. */
function checkState(value: unknown, path: string): TrainState {
  const fail = (problem: string): never => {
    throw new UserError(
      `${path}: not a training state this program wrote (${problem}); the checkpoint is damaged`,
      path,
    );
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail('not a JSON object');
  const state = value as Record<string, unknown>;
  for (const key of ['epoch', 'batch', 'step', 'bestEpoch', 'epochsWithoutImprovement'] as const) {
    if (!isWhole(state[key])) fail(`'${key}' must be a whole number >= 0, got ${JSON.stringify(state[key])}`);
  }
  for (const key of ['bestValAccuracy', 'trainingSeconds'] as const) {
    if (!isFiniteNumber(state[key])) fail(`'${key}' must be a number, got ${JSON.stringify(state[key])}`);
  }
  if (
    !Array.isArray(state.history) ||
    !state.history.every((r) => typeof r === 'object' && r !== null && isWhole((r as EpochRecord).epoch))
  ) {
    fail(`'history' must be a list of epoch records`);
  }
  if (state.bestValLoss === undefined) {
    // Written before the best epoch was picked by loss: its loss is in the history.
    const record = (state.history as EpochRecord[]).find((r) => r.epoch === state.bestEpoch);
    state.bestValLoss = record ? (record.val_loss ?? record.loss) : null;
  } else if (state.bestValLoss !== null && !isFiniteNumber(state.bestValLoss)) {
    fail(`'bestValLoss' must be a number or null, got ${JSON.stringify(state.bestValLoss)}`);
  }
  const partial = state.partial as Record<string, unknown> | null | undefined;
  if (typeof partial !== 'object' || partial === null) return fail(`'partial' must be an object`);
  for (const key of ['loss', 'correct', 'seen', 'seconds']) {
    if (!isFiniteNumber(partial[key])) fail(`'partial.${key}' must be a number, got ${JSON.stringify(partial[key])}`);
  }
  return value as TrainState;
}

/** optimizer.json's weight entries, checked: each with a name, a shape and a 4-byte dtype. */
function checkOptimizerSpecs(
  value: unknown,
  path: string,
): { className?: string; specs: tf.io.WeightsManifestEntry[] } {
  const saved = value as { className?: unknown; specs?: unknown } | null;
  const specs = saved?.specs;
  const entryOk = (spec: tf.io.WeightsManifestEntry) =>
    typeof spec === 'object' &&
    spec !== null &&
    typeof spec.name === 'string' &&
    Array.isArray(spec.shape) &&
    spec.shape.every(isWhole) &&
    ['float32', 'int32'].includes(spec.dtype);
  if (typeof saved !== 'object' || saved === null || !Array.isArray(specs) || !specs.every(entryOk)) {
    throw new UserError(
      `${path}: not an optimizer state this program wrote (no list of weight entries); the checkpoint is damaged`,
      path,
    );
  }
  return {
    className: typeof saved.className === 'string' ? saved.className : undefined,
    specs: specs as tf.io.WeightsManifestEntry[],
  };
}

/**
 * Read a checkpoint back, refusing (naming the file) a missing or damaged state.json,
 * optimizer.json or optimizer.bin, an optimizer state that is NaN or infinite, and the state of
 * another optimizer than `expect.optimizer` (its TensorFlow.js class name). The model's own
 * files are checked by loadModel.
 */
export async function loadCheckpoint(dir: string, expect: { optimizer?: string } = {}): Promise<LoadedCheckpoint> {
  for (const file of [STATE_FILE, OPTIMIZER_JSON, OPTIMIZER_BIN]) {
    if (!existsSync(join(dir, file)))
      throw new UserError(`${join(dir, file)} is missing: no checkpoint to resume from`, join(dir, file));
  }
  const statePath = join(dir, STATE_FILE);
  const state = checkState(await readJson(statePath), statePath);
  const jsonPath = join(dir, OPTIMIZER_JSON);
  const { className, specs } = checkOptimizerSpecs(await readJson(jsonPath), jsonPath);
  if (expect.optimizer !== undefined && className !== undefined && className !== expect.optimizer) {
    throw new UserError(
      `${jsonPath}: holds the state of a ${className} optimizer, but the run's config asks for ${expect.optimizer}`,
      jsonPath,
    );
  }
  const binPath = join(dir, OPTIMIZER_BIN);
  const bin = await readFile(binPath);
  const expected = specs.reduce((sum, spec) => sum + 4 * spec.shape.reduce((a, b) => a * b, 1), 0);
  if (bin.byteLength !== expected) {
    throw new UserError(
      `${binPath}: is ${bin.byteLength} bytes, but ${OPTIMIZER_JSON} describes ${expected} bytes; the checkpoint is damaged`,
      binPath,
    );
  }
  const data = bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength);
  const broken = nonFiniteEntry(data, specs);
  if (broken !== undefined) {
    throw new UserError(
      `${binPath}: the optimizer state ${broken} is NaN or infinite; training from it would go nowhere`,
      binPath,
    );
  }
  const map = tf.io.decodeWeights(data, specs);
  const optimizerWeights = specs.map((spec) => ({ name: spec.name, tensor: map[spec.name] }));
  try {
    const model = await loadModel(dir);
    return { model, state, optimizerWeights };
  } catch (err) {
    tf.dispose(optimizerWeights.map((w) => w.tensor));
    throw err;
  }
}

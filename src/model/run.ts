import { existsSync, realpathSync } from 'node:fs';
import { readFile, rename, rm, symlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { DataError, UserError } from '../util/errors.js';
import { writeJsonAtomic } from '../util/fs.js';
import type { RunMetadata } from './metadata.js';
import { weightsSha256 } from './model-files.js';
import { isShippedModelName, shippedModelDir } from './shipped.js';

/**
 * The layout of a run folder:
 *   config.json      the final merged training config
 *   metadata.json    RunMetadata: everything needed to use the model again
 *   model.json, weights.bin   the best epoch's model (TensorFlow.js layers format)
 *   history.csv      epoch,loss,accuracy,val_loss,val_accuracy,lr,seconds,val_loss_calibrated
 *   val-indices.json the validation images (indices into the training file)
 *   checkpoints/last/  the last epoch's model + optimizer state, for --resume
 *   training.lock    while a training runs in the folder: its process (util/lock.ts)
 *   metrics.json     evaluation on the test set (evaluate stage)
 *   plots/           .svg and .png pictures (evaluate stage)
 *   report.html      the self-contained report (evaluate stage)
 *   evaluations/<data>/  metrics.json and plots/ of `evaluate --data` on other datasets
 *   holdout-images-idx3-ubyte, holdout-labels-idx1-ubyte   a fine-tuned run's held-out
 *                    corrections (train/finetune.ts; `evaluate --data` reads them)
 *   model.onnx       `export --format onnx`: the model for ONNX Runtime, temperature folded in
 *   model.int8.onnx  `export --format onnx --int8`: its int8-quantised copy (model/onnx-quantize.ts)
 */
export const RUN_FILES = {
  config: 'config.json',
  metadata: 'metadata.json',
  history: 'history.csv',
  valIndices: 'val-indices.json',
  metrics: 'metrics.json',
  report: 'report.html',
  plots: 'plots',
  checkpoint: join('checkpoints', 'last'),
  lock: 'training.lock',
  evaluations: 'evaluations',
  holdoutImages: 'holdout-images-idx3-ubyte',
  holdoutLabels: 'holdout-labels-idx1-ubyte',
  onnx: 'model.onnx',
  onnxInt8: 'model.int8.onnx',
} as const;

export const DEFAULT_RUNS_DIR = 'runs';
const LATEST_LINK = 'latest';

export type {
  AnswerScores,
  FinetuneRecord,
  NonDigitRuleRecord,
  PredictionSetRecord,
  RunMetadata,
  TemperatureFitRecord,
} from './metadata.js';

/** A run's calibration temperature: metadata.json's `temperature`, 1 when absent (older runs); a clear error when it is not a positive number. */
export function runTemperature(metadata: Pick<RunMetadata, 'temperature'>, path: string = RUN_FILES.metadata): number {
  const t: unknown = metadata.temperature;
  if (t === undefined || t === null) return 1;
  if (typeof t !== 'number' || !Number.isFinite(t) || t <= 0)
    throw new UserError(`${path}: temperature ${JSON.stringify(t)} is not a positive number`, path);
  return t;
}

/**
 * `runs/latest`, any run folder, or the name of a model shipped in the package (`default`, when
 * no such folder exists here) → its real path; a clear error when it is none of these.
 */
export function resolveRunDir(dir: string): string {
  const path = resolve(dir);
  if (!existsSync(path)) {
    if (isShippedModelName(dir)) return realpathSync(shippedModelDir(dir));
    throw new UserError(
      `${dir} does not exist${dir.endsWith(LATEST_LINK) ? ' (no run yet: train one with `mnist-cnn train` or `npm start`)' : ''}`,
      dir,
    );
  }
  return realpathSync(path);
}

export async function readMetadata(dir: string): Promise<RunMetadata> {
  const path = join(dir, RUN_FILES.metadata);
  if (!existsSync(path)) throw new UserError(`${path} is missing: ${dir} is not a complete run folder`, path);
  let meta: RunMetadata;
  try {
    meta = JSON.parse(await readFile(path, 'utf8')) as RunMetadata;
  } catch (err) {
    throw new UserError(`${path}: not valid JSON (${(err as Error).message})`, path);
  }
  if (meta.format !== 'mnist-cnn-run') throw new UserError(`${path}: not the metadata of an mnist-cnn run`, path);
  return meta;
}

/**
 * Write metadata.json, recording the SHA-256 of the weights.bin beside it at this moment (so
 * write the weights first): loadRun refuses weights that differ from it later.
 */
export async function writeMetadata(dir: string, meta: RunMetadata): Promise<void> {
  // (Undefined, with no weights.bin: JSON leaves the key out.)
  await writeJsonAtomic(join(dir, RUN_FILES.metadata), { ...meta, weightsSha256: await weightsSha256(dir) });
}

/**
 * The validation images training held out (val-indices.json: indices into the training file),
 * checked to be whole numbers inside its `trainCount` images; undefined when the run has no such file.
 */
export async function readValIndices(runDir: string, trainCount: number): Promise<number[] | undefined> {
  const path = join(runDir, RUN_FILES.valIndices);
  if (!existsSync(path)) return undefined;
  let indices: unknown;
  try {
    indices = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new DataError(path, `not valid JSON (${(err as Error).message})`);
  }
  if (!Array.isArray(indices)) throw new DataError(path, 'must hold a JSON array of image indices');
  indices.forEach((i, at) => {
    if (!Number.isInteger(i) || i < 0 || i >= trainCount) {
      throw new DataError(
        path,
        `entry ${at} (${JSON.stringify(i)}) is not an index into the ${trainCount} training images`,
      );
    }
  });
  return indices as number[];
}

export interface LoadedRun {
  dir: string;
  metadata: RunMetadata;
  model: tf.LayersModel;
}

/**
 * Load a run folder's best model and its metadata, refusing weights that are not finite or not
 * the ones metadata.json records. The backend must be started first.
 */
export async function loadRun(dir: string): Promise<LoadedRun> {
  const real = resolveRunDir(dir);
  const metadata = await readMetadata(real);
  const recorded = typeof metadata.weightsSha256 === 'string' ? metadata.weightsSha256 : undefined;
  // Imported here: io.ts loads TensorFlow.js, which what only reads metadata never needs.
  const { loadModel } = await import('./io.js');
  const model = await loadModel(real, { weightsSha256: recorded });
  return { dir: real, metadata, model };
}

/** runs/latest → the newest run (a relative symlink, replaced atomically). */
export async function pointLatestAt(dir: string): Promise<void> {
  const parent = dirname(dir);
  const link = join(parent, LATEST_LINK);
  const tmp = `${link}.tmp-${process.pid}`;
  try {
    await rm(tmp, { force: true });
    await symlink(basename(dir), tmp);
    await rename(tmp, link);
  } catch {
    // A filesystem without symlinks: runs/latest is a convenience, not a requirement.
    await rm(tmp, { force: true });
  }
}

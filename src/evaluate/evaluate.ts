import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { NUM_CLASSES, type ImageSet } from '../data/types.js';
import { INPUT_SHAPE } from '../model/architectures.js';
import type { BackendName } from '../backend/names.js';
import { DEFAULT_INFER_BATCH } from '../predict/set-inference.js';
import { Predictor } from '../predict/predictor.js';
import { readMetadata, resolveRunDir, RUN_FILES, writeMetadata, type RunMetadata } from '../model/run.js';
import { UserError } from '../util/errors.js';
import { writeJsonAtomic } from '../util/fs.js';
import { computeMetrics, type ClassificationMetrics } from '../metrics/classification.js';
import type { PlotFile } from './plots.js';
import { loadEvalData, type EvalData, type EvalSource, type EvalSplit } from './eval-data.js';

const METRICS_FORMAT = 'mnist-cnn-metrics';

/** metrics.json: what was evaluated, then every metric. */
export interface EvaluationReport extends ClassificationMetrics {
  format: typeof METRICS_FORMAT;
  formatVersion: 1;
  run: string;
  arch: string;
  evaluatedAt: string;
  backend: string;
  /** `test`, `val` or `data` (a dataset given by path). */
  split: EvalSplit | 'data';
  /** "mnist test (10000 images)". */
  data: string;
  source: EvalSource;
  classNames: string[];
  /** Probabilities averaged over shifted views of each image (test-time augmentation); absent in older metrics.json. */
  tta?: boolean;
}

export interface EvaluateOptions {
  /** Which split of the run's dataset (default `test`); ignored when `data` is given. */
  split?: EvalSplit;
  /** Evaluate on a labelled dataset at this path instead: IDX images file (labels beside it), CSV, or class folder. */
  data?: string;
  /** Where metrics.json and plots/ go (default: the run folder; with `data`, its own folder: dataEvaluationDir). */
  out?: string;
  /** Images per inference batch (default: the run's evalBatchSize, else DEFAULT_INFER_BATCH). */
  batchSize?: number;
  /** Render the pictures into OUT/plots (default true). */
  plots?: boolean;
  /** Write metrics.json, plots and metadata.json's `test` (default true); false only computes. */
  write?: boolean;
  /** Test-time augmentation: average each image's probabilities over it and its one-pixel shifts (5x the time). */
  tta?: boolean;
  /** A model already in memory (right after training); default: the run's model.json + weights.bin. */
  model?: tf.LayersModel;
  /** Threads that share each inference batch (default 1). */
  threads?: number;
  /** The TensorFlow.js backend to load the run's model on (default wasm; unused with `model`). */
  backend?: BackendName;
}

export interface EvaluationResult {
  runDir: string;
  outDir: string;
  metrics: EvaluationReport;
  /** The evaluated images, in the order of the metrics' indices. */
  set: ImageSet;
  plots: PlotFile[];
}

/** A model that does not take 28x28x1 images to 10 classes belongs to another task: say so, naming the file. */
function checkModelShape(model: tf.LayersModel, dir: string, classes: number): void {
  const input = model.inputs[0]?.shape ?? [];
  const output = model.outputs[0]?.shape ?? [];
  const inputOk = input.length === 4 && INPUT_SHAPE.every((side, i) => input[i + 1] === side);
  if (!inputOk || output[output.length - 1] !== classes) {
    const path = join(dir, 'model.json');
    throw new UserError(
      `${path}: the model takes [${input.join(', ')}] to [${output.join(', ')}], expected [null, ${INPUT_SHAPE.join(', ')}] to [null, ${classes}]: it does not belong with this run's metadata.json`,
      path,
    );
  }
}

/**
 * Where an evaluation on other data (`--data`) goes by default: `RUN/evaluations/NAME-HASH`,
 * named after the data and a hash of its full path. Its own folder, so that it never replaces
 * the run's metrics.json (its test figures, what the report shows): a one-image folder must
 * not make the run read 100%.
 */
export function dataEvaluationDir(runDir: string, data: string): string {
  const path = resolve(data);
  const name = basename(path).replace(/[^A-Za-z0-9._-]+/g, '_') || 'data';
  const hash = createHash('sha256').update(path).digest('hex').slice(0, 8);
  return join(runDir, RUN_FILES.evaluations, `${name}-${hash}`);
}

function evalBatchSize(meta: RunMetadata, options: EvaluateOptions): number {
  const size = options.batchSize ?? (typeof meta.config?.evalBatchSize === 'number' ? meta.config.evalBatchSize : DEFAULT_INFER_BATCH);
  if (!Number.isInteger(size) || size < 1) throw new UserError(`batch size must be a whole number >= 1, got ${size}`);
  return size;
}

/**
 * Evaluate a run's model on its test split (default), its validation split, or a labelled
 * dataset, through the one inference path (Predictor: the run's own preprocessing spec);
 * write metrics.json and the pictures, and record test accuracy and loss in metadata.json.
 */
export async function evaluateRun(runDir: string, options: EvaluateOptions = {}): Promise<EvaluationResult> {
  const dir = resolveRunDir(runDir);
  const meta = await readMetadata(dir);
  const settings = { threads: options.threads, batchSize: evalBatchSize(meta, options), minConfidence: 0 };
  const predictor = options.model
    ? await Predictor.fromModel(options.model, { ...settings, dir, metadata: meta })
    : await Predictor.load(dir, { ...settings, backend: options.backend });
  let data: EvalData;
  let probs: Float32Array;
  try {
    checkModelShape(predictor.model, dir, meta.classNames?.length || NUM_CLASSES);
    data = await loadEvalData(dir, meta, { split: options.split, data: options.data });
    if (data.set.count === 0) throw new UserError(`${data.description}: no images to evaluate`);
    probs = await predictor.probabilities(data.set, { tta: options.tta });
  } finally {
    await predictor.close();
  }
  const split = options.data ? 'data' : (options.split ?? 'test');
  const tta = options.tta === true;
  const metrics: EvaluationReport = {
    format: METRICS_FORMAT,
    formatVersion: 1,
    run: dir,
    arch: meta.arch,
    evaluatedAt: new Date().toISOString(),
    backend: tf.getBackend(),
    split,
    data: data.description,
    source: data.source,
    classNames: meta.classNames,
    tta,
    ...computeMetrics(probs, data.set.labels),
  };
  const outDir = options.out ? resolve(options.out) : options.data ? dataEvaluationDir(dir, options.data) : dir;
  const result: EvaluationResult = { runDir: dir, outDir, metrics, set: data.set, plots: [] };
  if (options.write === false) return result;
  await writeJsonAtomic(join(outDir, RUN_FILES.metrics), metrics);
  if (split === 'test') {
    const test = { accuracy: metrics.accuracy, loss: metrics.loss, n: metrics.n, ...(tta ? { tta } : {}) };
    await writeMetadata(dir, { ...meta, test });
  }
  if (options.plots !== false) {
    // Imported here: vega, vega-lite and sharp are heavy, and only pictures need them.
    const { writePlots } = await import('./plots.js');
    const { readRunHistory } = await import('../model/history.js');
    result.plots = await writePlots(join(outDir, RUN_FILES.plots), metrics, data.set, await readRunHistory(dir));
  }
  return result;
}

/** A run's metrics.json, or undefined when it has none (or an older one without the full metrics, to be redone). */
export async function readMetrics(dir: string): Promise<EvaluationReport | undefined> {
  const path = join(dir, RUN_FILES.metrics);
  if (!existsSync(path)) return undefined;
  let metrics: EvaluationReport;
  try {
    metrics = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new UserError(`${path}: not valid JSON (${(err as Error).message})`, path);
  }
  if (typeof metrics !== 'object' || metrics === null) throw new UserError(`${path}: not the metrics of an mnist-cnn evaluation`, path);
  if (metrics.format !== METRICS_FORMAT) return undefined;
  return metrics;
}

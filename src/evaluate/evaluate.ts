import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { INPUT_SHAPE, NOT_A_DIGIT, NUM_CLASSES, type ImageSet } from '../data/types.js';
import type { BackendName, RuntimeName } from '../backend/names.js';
import { DEFAULT_INFER_BATCH } from '../predict/set-inference.js';
import { Predictor } from '../predict/predictor.js';
import { fitNonDigitRuleWith } from '../predict/non-digit-rule.js';
import { fitPredictionSetsWith } from '../predict/prediction-sets.js';
import {
  readMetadata,
  resolveRunDir,
  RUN_FILES,
  writeMetadata,
  type NonDigitRuleRecord,
  type PredictionSetRecord,
  type RunMetadata,
  type TemperatureFitRecord,
} from '../model/run.js';
import { shippedModelOf } from '../model/shipped.js';
import { UserError } from '../util/errors.js';
import { writeJsonAtomic } from '../util/fs.js';
import {
  calibration,
  computeMetrics,
  digitColumns,
  type CalibrationBin,
  type ClassificationMetrics,
} from '../metrics/classification.js';
import { calibrationScores, temperatureFit, type CalibrationScores } from '../metrics/calibration.js';
import type { PlotFile } from './plots.js';
import { loadEvalData, type EvalData, type EvalSource, type EvalSplit } from './eval-data.js';
import { trustEvaluation, type TrustEvaluation } from './trust.js';

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
  /**
   * The run's calibration temperature T (metadata.json; 1 when it has none). Every other figure
   * here is of the answers, softmax(log p / T) of the model's p, as predict and serve give them;
   * accuracy is the same either way (T never moves the argmax). Absent in older metrics.json.
   */
  temperature?: number;
  /** ECE, NLL and Brier score of the model's own probabilities (`before` T) and of the answers (`after`). */
  calibrationScores?: { before: CalibrationScores; after: CalibrationScores };
  /** The reliability table of the model's own probabilities, before T (`calibration` is after). */
  calibrationBefore?: CalibrationBin[];
  /**
   * How far the answers can be trusted (evaluate/trust.ts): risk-coverage, the default minimum
   * confidence's answers and the prediction sets on these digits and on them as pictures; the
   * generated non-digits refused per category. The run's own splits only (not `data`); absent in
   * older metrics.json.
   */
  trust?: TrustEvaluation;
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
  /** What runs the model (default DEFAULT_RUNTIME, backend/names.ts): `onnx` or `tfjs`. */
  runtime?: RuntimeName;
  /**
   * The trust figures (metrics.json `trust`, evaluate/trust.ts; default true on the run's own
   * splits): about 20 s more on 2 cores for the test split, most of it making and reading the
   * pictures. `nonDigits: false` leaves out the generated non-digits.
   */
  trust?: boolean | { nonDigits?: boolean; perCategory?: number };
}

export interface EvaluationResult {
  runDir: string;
  outDir: string;
  metrics: EvaluationReport;
  /** The evaluated images, in the order of the metrics' indices. */
  set: ImageSet;
  plots: PlotFile[];
}

/**
 * A model that does not take 28x28x1 images to 10 classes (11 with the not-a-digit output, for
 * digits) belongs to another task: say so, naming the file.
 */
function checkModelShape(model: tf.LayersModel, dir: string, classes: number): void {
  const input = model.inputs[0]?.shape ?? [];
  const output = model.outputs[0]?.shape ?? [];
  const inputOk = input.length === 4 && INPUT_SHAPE.every((side, i) => input[i + 1] === side);
  const widths = classes === NUM_CLASSES ? [classes, NOT_A_DIGIT + 1] : [classes];
  if (!inputOk || !widths.includes(output[output.length - 1] ?? -1)) {
    const path = join(dir, 'model.json');
    throw new UserError(
      `${path}: the model takes [${input.join(', ')}] to [${output.join(', ')}], expected [null, ${INPUT_SHAPE.join(', ')}] to [null, ${widths.join(' or ')}]: it does not belong with this run's metadata.json`,
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
  const size =
    options.batchSize ??
    (typeof meta.config?.evalBatchSize === 'number' ? meta.config.evalBatchSize : DEFAULT_INFER_BATCH);
  if (!Number.isInteger(size) || size < 1) throw new UserError(`batch size must be a whole number >= 1, got ${size}`);
  return size;
}

/**
 * Evaluate a run's model on its test split (default), its validation split, or a labelled
 * dataset, through the one inference path (Predictor: the run's own preprocessing spec and
 * temperature; calibration is scored before and after the temperature); write metrics.json
 * and the pictures, and record test accuracy and loss in metadata.json.
 */
export async function evaluateRun(runDir: string, options: EvaluateOptions = {}): Promise<EvaluationResult> {
  const dir = resolveRunDir(runDir);
  const meta = await readMetadata(dir);
  const settings = {
    threads: options.threads,
    runtime: options.runtime,
    batchSize: evalBatchSize(meta, options),
    minConfidence: 0,
  };
  const predictor = options.model
    ? await Predictor.fromModel(options.model, { ...settings, dir, metadata: meta })
    : await Predictor.load(dir, { ...settings, backend: options.backend });
  let data: EvalData;
  let raw: Float32Array;
  let probs: Float32Array;
  let temperature: number;
  let trust: TrustEvaluation | undefined;
  try {
    checkModelShape(predictor.model, dir, meta.classNames?.length || NUM_CLASSES);
    data = await loadEvalData(dir, meta, { split: options.split, data: options.data });
    if (data.set.count === 0) throw new UserError(`${data.description}: no images to evaluate`);
    // The model's own probabilities, then the answers' (calibrated by the run's temperature).
    // (The scores are of the ten digits' probabilities, as answers show them: classification.ts `digitColumns`.)
    const outputs = await predictor.probabilities(data.set, { tta: options.tta, calibrated: false });
    raw = digitColumns(outputs, predictor.outputs);
    const calibrated = predictor.calibrate(outputs);
    probs = digitColumns(calibrated, predictor.outputs);
    temperature = predictor.temperature;
    // (Not with TTA: the answers of predict and serve are of one view.)
    if (options.trust !== false && !options.data && !options.tta) {
      const settings = typeof options.trust === 'object' ? options.trust : {};
      trust = await trustEvaluation(predictor, data.set, calibrated, {
        ...settings,
        ...(options.split === 'val' ? { validation: { seed: meta.seed } } : {}),
      });
    }
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
    temperature,
    calibrationScores: {
      before: calibrationScores(raw, data.set.labels),
      after: calibrationScores(probs, data.set.labels),
    },
    calibrationBefore: calibration(raw, data.set.labels).table,
    ...(trust ? { trust } : {}),
  };
  // A model shipped in the package is read-only: its evaluations go to the working folder.
  const shipped = shippedModelOf(dir);
  const outDir = options.out
    ? resolve(options.out)
    : shipped
      ? resolve(
          RUN_FILES.evaluations,
          `${shipped}-${options.data ? basename(dataEvaluationDir(dir, options.data)) : split}`,
        )
      : options.data
        ? dataEvaluationDir(dir, options.data)
        : dir;
  const result: EvaluationResult = { runDir: dir, outDir, metrics, set: data.set, plots: [] };
  if (options.write === false) return result;
  await writeJsonAtomic(join(outDir, RUN_FILES.metrics), metrics);
  if (split === 'test' && !shipped) {
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

/**
 * Fit a run's calibration temperature on its validation split (val-indices.json) with its own
 * model, and record it in metadata.json: what `ensemble` does for a new ensemble (its mean of
 * the members' probabilities has a calibration of its own, not any member's). Training fits its
 * runs' temperatures itself (train/trainer.ts), on the same split with the same function
 * (metrics/calibration.ts `temperatureFit`). Without a validation split, T = 1 and the reason.
 *
 * A run with a not-a-digit rule (an ensemble of members trained with non-digits carries the most
 * lenient member's, model/ensemble.ts) has it refitted after the temperature, on the same split
 * with training's function and budget (predict/non-digit-rule.ts): the mean of the members'
 * probabilities has a not-a-digit score distribution of its own. Measured (a compact net and
 * LeNet-5, 3 epochs each): the most lenient member's threshold refused 0.05% of the shared
 * validation digits instead of 0.3%, and 76% of the non-digits' test split against 90% refitted.
 * Without a validation split the members' rule stays, not refitted, and `nonDigitRule` is absent
 * from the result.
 */
export async function calibrateRun(
  runDir: string,
  options: { backend?: BackendName; threads?: number; runtime?: RuntimeName } = {},
): Promise<CalibrationRecords> {
  const dir = resolveRunDir(runDir);
  const meta = await readMetadata(dir);
  let result: CalibrationRecords;
  if (!existsSync(join(dir, RUN_FILES.valIndices)) || meta.data?.valCount === 0) {
    const reason =
      meta.data?.valCount === 0
        ? 'no validation split (valCount 0): nothing held out to fit a temperature on'
        : `no ${RUN_FILES.valIndices} (for an ensemble: its members held out different images), so no held-out images to fit a temperature on`;
    result = { temperature: 1, temperatureFit: { on: 'none', reason } };
  } else {
    const predictor = await Predictor.load(dir, {
      backend: options.backend,
      threads: options.threads,
      runtime: options.runtime,
      batchSize: evalBatchSize(meta, {}),
      temperature: 1,
    });
    try {
      const data = await loadEvalData(dir, meta, { split: 'val' });
      const probs = await predictor.probabilities(data.set, { calibrated: false });
      const { temperature, n, before, after } = temperatureFit(probs, data.set.labels, predictor.outputs);
      result = { temperature, temperatureFit: { on: 'val', n, before, after } };
      if (meta.nonDigitRule) result.nonDigitRule = await fitNonDigitRuleWith(predictor, data.set, { seed: meta.seed });
      // Then the prediction sets, for the answers' probabilities at the new temperature.
      result.predictionSets = await fitPredictionSetsWith(predictor, data.set, {
        temperature,
        nonDigitBelow: result.nonDigitRule?.below ?? meta.nonDigitRule?.below,
      });
    } finally {
      await predictor.close();
    }
  }
  await writeMetadata(dir, { ...meta, ...result });
  return result;
}

/** What `calibrateRun` fits and records in metadata.json. */
type CalibrationRecords = {
  temperature: number;
  temperatureFit: TemperatureFitRecord;
  nonDigitRule?: NonDigitRuleRecord;
  predictionSets?: PredictionSetRecord;
};

/** A run's metrics.json, or undefined when it has none (or an older one without the full metrics, to be redone). */
export async function readMetrics(dir: string): Promise<EvaluationReport | undefined> {
  const path = join(dir, RUN_FILES.metrics);
  if (!existsSync(path)) return undefined;
  let metrics: EvaluationReport;
  try {
    metrics = JSON.parse(await readFile(path, 'utf8')) as EvaluationReport;
  } catch (err) {
    throw new UserError(`${path}: not valid JSON (${(err as Error).message})`, path);
  }
  if (typeof metrics !== 'object' || metrics === null)
    throw new UserError(`${path}: not the metrics of an mnist-cnn evaluation`, path);
  if (metrics.format !== METRICS_FORMAT) return undefined;
  return metrics;
}

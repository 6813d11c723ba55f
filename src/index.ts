/**
 * The library's public API (`import { ... } from 'mnist-cnn'`): what a user needs to read digits,
 * and to train, evaluate and serve a model of their own. Named exports only, so that nothing
 * becomes public by accident; api/mnist-cnn.api.md records it and `npm test` compares
 * (`npm run api:update` after a deliberate change). The browser has its own entry,
 * `mnist-cnn/browser` (src/browser/index.ts).
 *
 * Importing it stays quick (no TensorFlow.js, Fastify or ONNX tooling): reading digits with the
 * shipped model needs none of them, and training, evaluating, exporting and serving load their
 * part of the library on first call.
 */
import type { EvaluateOptions, EvaluationResult } from './evaluate/evaluate.js';
import type { RunExport, RunExportOptions } from './export/onnx.js';
import type { RunningServer, ServeOptions } from './serve/server.js';
import type { FinetuneOptions, FinetuneResult } from './train/finetune.js';
import type { TrainOptions, TrainResult } from './train/trainer.js';

// Reading digits: one call (docs/library.md).
/** @public */
export { digitReader, type DigitReader, type DigitReaderOptions, type DigitInput } from './predict/digit-reader.js';
/** @public */
export type { ImageDataLike } from './predict/reader-input.js';
/** @public */
export { DEFAULT_MIN_CONFIDENCE, type Prediction, type AnswerRule, type SetRule } from './predict/interpret.js';
/** @public */
export { SHIPPED_MODELS, type ShippedModelName } from './model/shipped.js';

// The inference path underneath: batches, whole image sets, probabilities.
/** @public */
export { Predictor, type ModelCall, type PredictorOptions } from './predict/predictor.js';
/** @public */
export type { Preprocessed, RawImage, Stage, NotADigitReason } from './image/preprocess.js';
/** @public */
export type { PreprocessSpec } from './data/model-input.js';
/** @public */
export type { BackendName, RuntimeName } from './backend/names.js';
/** @public */
export { loadMnist, type LoadOptions } from './data/load.js';
/** @public */
export type { Dataset, DatasetName, ImageSet } from './data/types.js';
/** @public */
export type { RunMetadata, PredictionSetRecord } from './model/run.js';

// Training, evaluating, serving a model of one's own.
/** @public */
export type { TrainConfig } from './train/config.js';
/** @public */
export { resolveConfig } from './train/config-file.js';
/** @public */
export type { TrainOptions, TrainResult, StartFrom } from './train/trainer.js';
/** @public */
export type { FinetuneOptions, FinetuneResult } from './train/finetune.js';
/** @public */
export type { FinetuneSettings } from './train/finetune-settings.js';
/** @public */
export type { FinetuneRecord, AnswerScores } from './model/run.js';
/** @public */
export type { TrainReporter } from './train/reporter.js';
/** @public */
export type { EpochRecord } from './model/history.js';
/** @public */
export type { EvaluateOptions, EvaluationResult, EvaluationReport } from './evaluate/evaluate.js';
/** @public */
export type { RunExport, RunExportOptions } from './export/onnx.js';
/** @public */
export type { ServeOptions, RunningServer } from './serve/server.js';

/**
 * Train a model, as `mnist-cnn train` does: `train({ config: resolveConfig({ preset: 'fast' }) })`.
 * A run that cannot go on (a loss gone NaN, say) rejects with a UserError saying why.
 * @public
 */
export async function train(options: TrainOptions): Promise<TrainResult> {
  return (await import('./train/trainer.js')).train(options);
}

/**
 * Go on with an interrupted training from its run folder's last checkpoint, as `mnist-cnn train --resume`.
 * @public
 */
export async function resume(
  dir: string,
  options: Omit<TrainOptions, 'config' | 'outDir'> & { allowConfigChange?: boolean } = {},
): Promise<TrainResult> {
  return (await import('./train/trainer.js')).resume(dir, options);
}

/**
 * Teach a run (default: the shipped model) a folder of corrections without forgetting MNIST, into
 * a new run folder, as `mnist-cnn finetune` (docs/finetune.md).
 * @public
 */
export async function finetune(options: FinetuneOptions): Promise<FinetuneResult> {
  return (await import('./train/finetune.js')).finetune(options);
}

/**
 * Evaluate a run on the test set (metrics.json, plots, report.html), as `mnist-cnn evaluate`.
 * @public
 */
export async function evaluateRun(runDir: string, options: EvaluateOptions = {}): Promise<EvaluationResult> {
  return (await import('./evaluate/evaluate.js')).evaluateRun(runDir, options);
}

/**
 * Write a run as an ONNX file, checked against TensorFlow.js, as `mnist-cnn export`.
 * @public
 */
export async function exportRunToOnnx(
  runDir: string,
  outFile?: string,
  options: RunExportOptions = {},
): Promise<RunExport> {
  return (await import('./export/onnx.js')).exportRunToOnnx(runDir, outFile, options);
}

/**
 * Start the HTTP API and the draw-a-digit page, as `mnist-cnn serve`.
 * @public
 */
export async function startServer(options: ServeOptions = {}): Promise<RunningServer> {
  return (await import('./serve/server.js')).startServer(options);
}

/** @public */
export { UserError, DataError } from './util/errors.js';

/**
 * The library's public API (`import { ... } from 'mnist-cnn'`): what a user needs to read digits,
 * and to train, evaluate and serve a model of their own. Named exports only, so that nothing
 * becomes public by accident; api/mnist-cnn.api.md records it and `npm test` compares
 * (`npm run api:update` after a deliberate change). The browser has its own entry,
 * `mnist-cnn/browser` (src/browser/index.ts).
 */

// Reading digits: one call (docs/library.md).
/** @public */
export { digitReader, type DigitReader, type DigitReaderOptions, type DigitInput } from './predict/digit-reader.js';
/** @public */
export type { ImageDataLike } from './predict/reader-input.js';
/** @public */
export { DEFAULT_MIN_CONFIDENCE, type Prediction, type AnswerRule } from './predict/interpret.js';
/** @public */
export { SHIPPED_MODELS, type ShippedModelName } from './model/shipped.js';

// The inference path underneath: batches, whole image sets, probabilities.
/** @public */
export { Predictor, type PredictorOptions } from './predict/predictor.js';
/** @public */
export type { Preprocessed, RawImage, Stage, NotADigitReason } from './image/preprocess.js';
/** @public */
export type { PreprocessSpec } from './data/model-input.js';
/** @public */
export type { BackendName, RuntimeName } from './backend/names.js';
/** @public */
export { loadMnist, type Dataset, type ImageSet } from './data/index.js';
/** @public */
export type { LoadOptions } from './data/load.js';
/** @public */
export type { DatasetName } from './data/types.js';
/** @public */
export type { RunMetadata } from './model/run.js';

// Training, evaluating, serving a model of one's own.
/** @public */
export { resolveConfig, type TrainConfig } from './train/config.js';
/** @public */
export { train, resume, TrainingError, type TrainOptions, type TrainResult } from './train/trainer.js';
/** @public */
export type { TrainReporter } from './train/reporter.js';
/** @public */
export type { EpochRecord } from './model/history.js';
/** @public */
export { evaluateRun, type EvaluateOptions, type EvaluationResult, type EvaluationReport } from './evaluate/evaluate.js';
/** @public */
export { exportRunToOnnx, type RunExport, type RunExportOptions } from './export/onnx.js';
/** @public */
export { startServer, type ServeOptions, type RunningServer } from './serve/server.js';

/** @public */
export { UserError, DataError } from './util/errors.js';

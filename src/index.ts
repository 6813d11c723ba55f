/** The library API; the CLI and the server are thin shells over it. */
export * from './data/index.js';
export { createRng, deriveSeed, type Rng } from './util/rng.js';
export { UserError, DataError } from './util/errors.js';
export { initBackend, type BackendName } from './backend/index.js';
export { buildModel, modelSummary, ARCHITECTURES, type Arch } from './model/architectures.js';
export { saveModel, loadModel } from './model/io.js';
export { predictProbabilities, accuracyAndLoss } from './model/infer.js';
export { loadRun, readMetadata, resolveRunDir, RUN_FILES, type RunMetadata, type LoadedRun } from './model/run.js';
export { resolveConfig, DEFAULT_CONFIG, PRESETS, type TrainConfig } from './train/config.js';
export { train, resume, TrainingError, type TrainOptions, type TrainResult } from './train/trainer.js';
export { humanReporter, jsonReporter, quietReporter, type TrainReporter } from './train/reporter.js';
export { evaluateRun, readMetrics, type EvaluateOptions, type EvaluationResult, type EvaluationReport } from './evaluate/evaluate.js';
export { buildReport, type ReportOptions } from './evaluate/report.js';
export { listRuns, compareRuns, type RunSummary, type Comparison } from './evaluate/runs.js';
export { computeMetrics, type ClassificationMetrics } from './evaluate/metrics.js';
export { PREPROCESS_SPEC, scalePixels, type PreprocessSpec } from './predict/preprocess.js';

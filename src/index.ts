/** The library API; the CLI and the server are thin shells over it. */
export * from './data/index.js';
export { createRng, type Rng } from './util/rng.js';
export { UserError, DataError } from './util/errors.js';
export { initBackend, type BackendName } from './backend/index.js';
export { saveModel, loadModel } from './model/io.js';
export { loadRun, readMetadata, resolveRunDir, RUN_FILES, type RunMetadata, type LoadedRun } from './model/run.js';
export { PREPROCESS_SPEC, scalePixels, type PreprocessSpec } from './predict/preprocess.js';

/**
 * A run's metadata.json from what its training knows: written into the run folder by trainer.ts
 * (run-folder.ts), and handed out with a model trained in the page's Train panel
 * (session.ts), so that the CLI loads either alike. Free of Node's modules.
 */
import { INPUT_SHAPE, type Dataset } from '../data/types.js';
import { PREPROCESS_SPEC } from '../data/model-input.js';
import type { RunMetadata } from '../model/metadata.js';
import type { TrainConfig } from './config.js';

/** What the metadata reads of a training's state (checkpoint.ts `TrainState`). */
interface TrainState {
  history: readonly unknown[];
  bestEpoch: number;
  bestValAccuracy: number;
  trainingSeconds: number;
}

/** What a run's metadata.json says, from what training knows at this moment. */
export function runMetadata(run: {
  config: TrainConfig;
  params: number;
  createdAt: string;
  backend: string;
  /** Versions of what trained it (util/version.ts `libraryVersions` in Node). */
  versions: Record<string, string>;
  data: Pick<Dataset, 'name' | 'source' | 'files' | 'classNames'> & { test: { count: number } };
  trainCount: number;
  valCount: number;
  state: TrainState;
}): RunMetadata {
  const { config, data, state } = run;
  return {
    format: 'mnist-cnn-run',
    formatVersion: 1,
    arch: config.arch,
    params: run.params,
    createdAt: run.createdAt,
    seed: config.seed,
    config: { ...config },
    versions: run.versions,
    backend: run.backend,
    data: {
      dataset: data.name,
      source: data.source,
      files: data.files,
      trainCount: run.trainCount,
      valCount: run.valCount,
      testCount: data.test.count,
    },
    preprocessing: PREPROCESS_SPEC,
    classNames: data.classNames,
    inputShape: INPUT_SHAPE,
    epochsCompleted: state.history.length,
    bestEpoch: state.bestEpoch,
    bestValAccuracy: state.bestValAccuracy,
    trainingSeconds: state.trainingSeconds,
  };
}

/**
 * A run without a validation split (`valCount` 0, the `fast` preset) has nothing held out to fit
 * a temperature on (the test split is never used to fit anything): T = 1, and metadata.json says why.
 */
export const NO_VALIDATION_TEMPERATURE: Pick<RunMetadata, 'temperature' | 'temperatureFit'> = {
  temperature: 1,
  temperatureFit: { on: 'none', reason: 'no validation split (valCount 0): nothing held out to fit a temperature on' },
};

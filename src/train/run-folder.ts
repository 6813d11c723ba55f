/**
 * What training writes into its run folder besides the weights: the folder itself (refusing one
 * that already holds a run), config.json, the metadata that travels with the model, and the
 * `latest` link at the end. The layout and file names are model/run.ts's.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Dataset } from '../data/types.js';
import { PREPROCESS_SPEC } from '../data/model-input.js';
import { INPUT_SHAPE } from '../model/architectures.js';
import { DEFAULT_RUNS_DIR, pointLatestAt, RUN_FILES, writeMetadata, type RunMetadata } from '../model/run.js';
import { UserError } from '../util/errors.js';
import { writeJsonAtomic } from '../util/fs.js';
import { libraryVersions } from '../util/version.js';
import type { TrainState } from './checkpoint.js';
import { readConfigFile, resolveConfig, type TrainConfig } from './config.js';

function defaultRunDir(runsDir: string, arch: string): string {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').replace('T', '_').slice(0, 19);
  return join(runsDir, `${stamp}-${arch}`);
}

/** Make the folder of a fresh run (default runs/<timestamp>-<arch>) and write its config.json. */
export async function createRunFolder(config: TrainConfig, options: { outDir?: string; runsDir?: string }): Promise<string> {
  const dir = resolve(options.outDir ?? defaultRunDir(options.runsDir ?? DEFAULT_RUNS_DIR, config.arch));
  if (existsSync(join(dir, RUN_FILES.metadata)) || existsSync(join(dir, RUN_FILES.checkpoint))) {
    throw new UserError(`${dir} already holds a run: choose another --out, or continue it with --resume ${dir}`, dir);
  }
  await mkdir(dir, { recursive: true });
  await writeJsonAtomic(join(dir, RUN_FILES.config), config);
  return dir;
}

/** An interrupted run: its folder, its config.json (checked like any config file) and its checkpoint. */
export function openRunToResume(dir: string): { dir: string; config: TrainConfig; checkpointDir: string } {
  const runDir = resolve(dir);
  const configPath = join(runDir, RUN_FILES.config);
  if (!existsSync(configPath)) throw new UserError(`${configPath} is missing: ${runDir} is not a run folder`, configPath);
  // Over the defaults, as at the start: a key added to the schema since keeps its default.
  const config = { ...resolveConfig(), ...readConfigFile(configPath, 'the run\'s config') };
  const checkpointDir = join(runDir, RUN_FILES.checkpoint);
  if (!existsSync(checkpointDir)) throw new UserError(`${checkpointDir} is missing: nothing to resume`, checkpointDir);
  return { dir: runDir, config, checkpointDir };
}

/** What a run's metadata.json says, from what training knows at this moment. */
export function runMetadata(run: { config: TrainConfig; params: number; createdAt: string; backend: string; data: Dataset; trainCount: number; valCount: number; state: TrainState }): RunMetadata {
  const { config, data, state } = run;
  return {
    format: 'mnist-cnn-run',
    formatVersion: 1,
    arch: config.arch,
    params: run.params,
    createdAt: run.createdAt,
    seed: config.seed,
    config: { ...config },
    versions: libraryVersions(),
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

/** The last metadata.json of a run (finished, or stopped early), and runs/latest pointed at it. */
export async function closeRun(dir: string, meta: RunMetadata, end: { interrupted: boolean; stoppedEarlyAtEpoch?: number; updateLatest: boolean }): Promise<RunMetadata> {
  const final = { ...meta };
  if (!end.interrupted) final.finishedAt = new Date().toISOString();
  if (end.stoppedEarlyAtEpoch !== undefined) final.config = { ...final.config, stoppedEarlyAtEpoch: end.stoppedEarlyAtEpoch };
  await writeMetadata(dir, final);
  if (end.updateLatest) await pointLatestAt(dir);
  return final;
}

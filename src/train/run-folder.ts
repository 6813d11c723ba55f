/**
 * What training writes into its run folder besides the weights: the folder itself (refusing one
 * that already holds a run, or that another training is using), its lock, config.json, the
 * metadata that travels with the model, and the `latest` link at the end. The layout and file
 * names are model/run.ts's.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  DEFAULT_RUNS_DIR,
  pointLatestAt,
  readMetadata,
  RUN_FILES,
  writeMetadata,
  type RunMetadata,
} from '../model/run.js';
import { asUserError, UserError } from '../util/errors.js';
import { removeStaleTemporaries, writeJsonAtomic } from '../util/fs.js';
import { acquireLock, describeOwner, type HeldLock } from '../util/lock.js';
import { readCheckpointConfig, recoverCheckpoint } from './checkpoint.js';
import type { TrainConfig } from './config.js';
import { readConfigFile, resolveConfig } from './config-file.js';

function defaultRunDir(runsDir: string, arch: string): string {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').replace('T', '_').slice(0, 19);
  return join(runsDir, `${stamp}-${arch}`);
}

/** A run folder a training works in, and the lock that keeps other trainings out of it until released. */
export interface OpenRun {
  dir: string;
  lock: HeldLock;
}

/**
 * Lock a run folder for one training (training.lock, with the process id): a second `train
 * --out` or `--resume` of the same folder is refused while it runs; a lock left by a process
 * that died is taken over.
 */
async function lockRunFolder(dir: string): Promise<HeldLock> {
  return acquireLock(
    join(dir, RUN_FILES.lock),
    (owner) =>
      `${dir} is in use by another training (${describeOwner(owner)}); wait for it to end, or use another folder`,
  );
}

/** Make the folder of a fresh run (default runs/<timestamp>-<arch>), lock it and write its config.json. */
export async function createRunFolder(
  config: TrainConfig,
  options: { outDir?: string; runsDir?: string },
): Promise<OpenRun> {
  const dir = resolve(options.outDir ?? defaultRunDir(options.runsDir ?? DEFAULT_RUNS_DIR, config.arch));
  try {
    await mkdir(dir, { recursive: true });
  } catch (err) {
    throw asUserError(err, 'create the run folder', dir);
  }
  const lock = await lockRunFolder(dir);
  try {
    if (existsSync(join(dir, RUN_FILES.metadata)) || existsSync(join(dir, RUN_FILES.checkpoint))) {
      throw new UserError(`${dir} already holds a run: choose another --out, or continue it with --resume ${dir}`, dir);
    }
    await writeJsonAtomic(join(dir, RUN_FILES.config), config);
  } catch (err) {
    await lock.release();
    throw err;
  }
  return { dir, lock };
}

/** "epochs 2 → 3, lr 0.004 → 0.01": the keys whose values differ. */
function configChanges(before: Record<string, unknown>, after: Record<string, unknown>): string[] {
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])];
  return keys
    .filter((key) => JSON.stringify(before[key]) !== JSON.stringify(after[key]))
    .map((key) => `${key} ${JSON.stringify(before[key])} → ${JSON.stringify(after[key])}`);
}

export interface ResumeOptions {
  /** Continue even though config.json differs from the config the checkpoint was trained with. */
  allowConfigChange?: boolean;
  /** Told what was put in order (a checkpoint recovered, leftovers removed). */
  notice?: (message: string) => void;
}

/**
 * An interrupted run, locked: its folder, its config.json (checked like any config file) and
 * its checkpoint (recovered if a save was cut short, leftovers removed). A config.json that
 * differs from the config the checkpoint was trained with is refused, naming the keys, unless
 * `allowConfigChange`.
 */
export async function openRunToResume(
  dir: string,
  options: ResumeOptions = {},
): Promise<OpenRun & { config: TrainConfig; checkpointDir: string }> {
  const runDir = resolve(dir);
  const configPath = join(runDir, RUN_FILES.config);
  if (!existsSync(configPath))
    throw new UserError(`${configPath} is missing: ${runDir} is not a run folder`, configPath);
  const lock = await lockRunFolder(runDir);
  try {
    // Over the defaults, as at the start: a key added to the schema since keeps its default.
    const config = { ...resolveConfig(), ...readConfigFile(configPath, "the run's config") };
    if (existsSync(join(runDir, RUN_FILES.metadata)) && (await readMetadata(runDir)).finetune) {
      throw new UserError(
        `${runDir} was made by \`mnist-cnn finetune\`, which is not resumed: run the fine-tuning again (it is one short epoch)`,
        runDir,
      );
    }
    const checkpointDir = join(runDir, RUN_FILES.checkpoint);
    const recovered = await recoverCheckpoint(checkpointDir);
    if (recovered) options.notice?.(recovered);
    await removeStaleTemporaries(runDir);
    if (!existsSync(checkpointDir))
      throw new UserError(`${checkpointDir} is missing: nothing to resume`, checkpointDir);
    const started = await readCheckpointConfig(checkpointDir);
    if (started && !options.allowConfigChange) {
      const changes = configChanges({ ...resolveConfig(), ...started }, config);
      if (changes.length > 0) {
        throw new UserError(
          `${configPath} has changed since the checkpoint was saved (${changes.join(', ')}); put it back, or resume with --allow-config-change to continue with the changed config`,
          configPath,
        );
      }
    }
    return { dir: runDir, lock, config, checkpointDir };
  } catch (err) {
    await lock.release();
    throw err;
  }
}

/** The last metadata.json of a run (finished, or stopped early), and runs/latest pointed at it. */
export async function closeRun(
  dir: string,
  meta: RunMetadata,
  end: { interrupted: boolean; stoppedEarlyAtEpoch?: number; updateLatest: boolean },
): Promise<RunMetadata> {
  const final = { ...meta };
  if (!end.interrupted) final.finishedAt = new Date().toISOString();
  if (end.stoppedEarlyAtEpoch !== undefined)
    final.config = { ...final.config, stoppedEarlyAtEpoch: end.stoppedEarlyAtEpoch };
  await writeMetadata(dir, final);
  if (end.updateLatest) await pointLatestAt(dir);
  return final;
}

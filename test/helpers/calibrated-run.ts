import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { calibrateRun } from '../../src/evaluate/evaluate.js';

/**
 * A copy of a run folder with its calibration temperature fitted on its own validation split
 * (evaluate.ts `calibrateRun`, the same fit training does): the quick test run is cached, and may
 * have been trained before runs recorded a temperature. Returns the copy, its temperature and a
 * function that removes it.
 */
export async function calibratedRun(
  runDir: string,
): Promise<{ dir: string; temperature: number; remove: () => Promise<void> }> {
  const parent = await mkdtemp(join(tmpdir(), 'mnist-cnn-calibrated-'));
  const dir = join(parent, 'run');
  await cp(runDir, dir, { recursive: true });
  const { temperature } = await calibrateRun(dir);
  return { dir, temperature, remove: () => rm(parent, { recursive: true, force: true }) };
}

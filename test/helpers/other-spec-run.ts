import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PREPROCESS_SPEC, type PreprocessSpec } from '../../src/data/model-input.js';

/** A spec no default could be mistaken for: the model input is inverted (1 - pixel/255). */
export const INVERTED_SPEC: PreprocessSpec = { ...PREPROCESS_SPEC, scale: -1 / 255, offset: 1 };

/**
 * A copy of a run folder whose metadata.json records another preprocessing spec: every path
 * that honours the run's own spec reads it differently from the original run. Returns the copy
 * and a function that removes it.
 */
export async function runWithSpec(
  runDir: string,
  spec: PreprocessSpec = INVERTED_SPEC,
): Promise<{ dir: string; remove: () => Promise<void> }> {
  const parent = await mkdtemp(join(tmpdir(), 'mnist-cnn-spec-'));
  const dir = join(parent, 'run');
  await cp(runDir, dir, { recursive: true });
  const path = join(dir, 'metadata.json');
  const meta = JSON.parse(await readFile(path, 'utf8'));
  await writeFile(path, JSON.stringify({ ...meta, preprocessing: spec }));
  return { dir, remove: () => rm(parent, { recursive: true, force: true }) };
}

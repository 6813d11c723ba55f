import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';

const CACHE = resolve('.cache', 'test-runs');

/**
 * The folders of src/ whose code can change what training writes: a cached run is keyed on all
 * of their files, so no change to the trainer, the data, the images, the kernels, the model or
 * the rules fitted at the end of training is ever served from a stale run. The front ends (cli/,
 * serve/, browser/), export/, baselines/ and evaluate/'s report are read after training only.
 */
const TRAINING_SOURCES = ['backend', 'data', 'evaluate', 'image', 'metrics', 'model', 'predict', 'train', 'util'];

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => (entry.isDirectory() ? filesUnder(join(dir, entry.name)) : [join(dir, entry.name)]))
    .sort();
}

/** A short hash of the training sources and `settings`: the cache key of one kind of run. */
function trainingKey(settings: unknown): string {
  const hash = createHash('sha256');
  for (const folder of TRAINING_SOURCES) {
    for (const file of filesUnder(resolve('src', folder)))
      hash.update(relative('src', file)).update(readFileSync(file));
  }
  return hash.update(JSON.stringify(settings)).digest('hex').slice(0, 12);
}

/**
 * A run folder for tests, made once by `make(tmpDir)` and cached under .cache/test-runs/NAME-KEY
 * (later calls and later test files reuse it). It is made in a temporary folder renamed into
 * place, so an interrupted test run never leaves a half-trained cache; checkpoints are dropped.
 */
export async function cachedRun(
  name: string,
  settings: unknown,
  make: (dir: string) => Promise<void>,
): Promise<string> {
  const dir = join(CACHE, `${name}-${trainingKey(settings)}`);
  if (existsSync(join(dir, 'metadata.json'))) return dir;
  const tmp = `${dir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await make(tmp);
  await rm(join(tmp, 'checkpoints'), { recursive: true, force: true });
  await rm(dir, { recursive: true, force: true });
  await rename(tmp, dir);
  return dir;
}

import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { TrainConfig } from '../../src/train/config.js';
import { resolveConfig } from '../../src/train/config-file.js';
import { train } from '../../src/train/trainer.js';

/** The quick run that test files share: the default net, 1 epoch on a stratified 6,000 images. */
const QUICK_RUN_CONFIG: Partial<TrainConfig> = { limit: 6000, epochs: 1, seed: 1 };

const CACHE = resolve('.cache', 'test-runs');

/**
 * A trained run folder for tests, trained once and cached under .cache/test-runs/ (later calls
 * and later test files reuse it). Training goes to a temporary folder renamed into place, so
 * an interrupted test run never leaves a half-trained cache.
 */
export async function quickRunDir(): Promise<string> {
  // Keyed on the architectures' source: a changed network is never served from a stale cache.
  const source = readFileSync(resolve('src', 'model', 'architectures.ts'));
  const key = createHash('sha256').update(source).update(JSON.stringify(QUICK_RUN_CONFIG)).digest('hex').slice(0, 12);
  const dir = join(CACHE, `quick-default-6000-e1-s1-${key}`);
  if (existsSync(join(dir, 'metadata.json'))) return dir;
  const tmp = `${dir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  const result = await train({ config: resolveConfig({ flags: QUICK_RUN_CONFIG }), outDir: tmp, updateLatest: false });
  result.model.dispose();
  await rm(join(tmp, 'checkpoints'), { recursive: true, force: true });
  await rm(dir, { recursive: true, force: true });
  await rename(tmp, dir);
  return dir;
}

import type { TrainConfig } from '../../src/train/config.js';
import { resolveConfig } from '../../src/train/config-file.js';
import { train } from '../../src/train/trainer.js';
import { cachedRun } from './run-cache.js';

/** The quick run that test files share: the default net, 1 epoch on a stratified 6,000 images. */
const QUICK_RUN_CONFIG: Partial<TrainConfig> = { limit: 6000, epochs: 1, seed: 1 };

/** A trained run folder for tests, trained once and cached (run-cache.ts). */
export async function quickRunDir(): Promise<string> {
  return cachedRun('quick-default-6000-e1-s1', QUICK_RUN_CONFIG, async (dir) => {
    const result = await train({
      config: resolveConfig({ flags: QUICK_RUN_CONFIG }),
      outDir: dir,
      updateLatest: false,
    });
    result.model.dispose();
  });
}

import { nonDigitTrainingImages } from '../../src/image/non-digits.js';
import type { TrainConfig } from '../../src/train/config.js';
import { resolveConfig } from '../../src/train/config-file.js';
import { train } from '../../src/train/trainer.js';
import { cachedRun } from './run-cache.js';

/**
 * The quick run with non-digits (the 11th "not a digit" output) that test files share: the compact net, 3 epochs on a
 * stratified 12,000 images, with `npm start`'s share of non-digits and of pictured digits (200 non-digits drawn per category instead
 * of the 1,000 of a real run, to keep it to a few minutes), and its fitted not-a-digit threshold.
 */
const CONFIG: Partial<TrainConfig> = {
  arch: 'compact',
  limit: 12000,
  valCount: 2000,
  epochs: 3,
  seed: 1,
  nonDigits: 0.25,
  picturedDigits: 0.05,
};
const PER_CATEGORY = 200;

/**
 * Trained once and cached like quickRunDir (run-cache.ts). `changes` make another run of the
 * same kind (an ensemble's second member: with the same seed, limit and valCount it holds out the
 * same validation images).
 */
export async function nonDigitRunDir(changes: Partial<TrainConfig> = {}): Promise<string> {
  const config = { ...CONFIG, ...changes };
  return cachedRun(`non-digits-${config.arch}-12000-e3-s1`, { config, PER_CATEGORY }, async (dir) => {
    const nonDigitImages = await nonDigitTrainingImages(1, PER_CATEGORY);
    const result = await train({
      config: resolveConfig({ flags: config }),
      outDir: dir,
      updateLatest: false,
      nonDigitImages,
    });
    result.model.dispose();
  });
}

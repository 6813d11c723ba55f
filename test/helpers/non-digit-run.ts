import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { nonDigitTrainingImages } from '../../src/image/non-digits.js';
import { resolveConfig, type TrainConfig } from '../../src/train/config.js';
import { train } from '../../src/train/trainer.js';

/**
 * The quick run with non-digits (the 11th "not a digit" output) that test files share: the compact net, 3 epochs on a
 * stratified 12,000 images, with `npm start`'s share of non-digits and of pictured digits (200 non-digits drawn per category instead
 * of the 500 of a real run, to keep it to a few minutes), and its fitted not-a-digit threshold.
 */
const CONFIG: Partial<TrainConfig> = { arch: 'compact', limit: 12000, valCount: 2000, epochs: 3, seed: 1, nonDigits: 0.25, picturedDigits: 0.05 };
const PER_CATEGORY = 200;

const CACHE = resolve('.cache', 'test-runs');

/**
 * Trained once and cached under .cache/test-runs/ (keyed on the sources it depends on), like
 * quickRunDir. `changes` make another run of the same kind (an ensemble's second member: with the
 * same seed, limit and valCount it holds out the same validation images).
 */
export async function nonDigitRunDir(changes: Partial<TrainConfig> = {}): Promise<string> {
  const config = { ...CONFIG, ...changes };
  const hash = createHash('sha256');
  for (const file of ['train/trainer.ts', 'image/digit-pictures.ts', 'model/architectures.ts', 'model/gradients.ts', 'image/non-digits.ts', 'image/hand-glyphs.ts', 'image/ink-canvas.ts', 'image/preprocess.ts', 'predict/non-digit-rule.ts', 'predict/prediction-sets.ts', 'predict/interpret.ts']) hash.update(readFileSync(resolve('src', file)));
  const key = hash.update(JSON.stringify(Object.keys(changes).length ? { CONFIG: config, PER_CATEGORY } : { CONFIG, PER_CATEGORY })).digest('hex').slice(0, 12);
  const dir = join(CACHE, `non-digits-${config.arch}-12000-e3-s1-${key}`);
  if (existsSync(join(dir, 'metadata.json'))) return dir;
  const tmp = `${dir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  const nonDigitImages = await nonDigitTrainingImages(1, PER_CATEGORY);
  const result = await train({ config: resolveConfig({ flags: config }), outDir: tmp, updateLatest: false, nonDigitImages });
  result.model.dispose();
  await rm(join(tmp, 'checkpoints'), { recursive: true, force: true });
  await rm(dir, { recursive: true, force: true });
  await rename(tmp, dir);
  return dir;
}

import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256Hex, WEIGHTS_FILE } from './model-files.js';
import { RUN_FILES, type RunMetadata } from './run.js';

/**
 * release.json: how a model shipped in the package (model/shipped.ts) was made and what it
 * measured, written by `npm run model:release` (scripts/model-release.ts) beside the run files.
 * `files` records the SHA-256 of every other file of the folder, so that a test (and a user) can
 * check that what ships is what the recipe made.
 */
export const RELEASE_FILE = 'release.json';

export interface ReleaseRecord {
  format: 'mnist-cnn-release';
  /** The shipped model's name (models/<model>/). */
  model: string;
  /** The preset of train/config.ts that made it (`npm start`'s recipe: `start`), and its seed. */
  recipe: string;
  seed: number;
  /** The command that makes it again. */
  command: string;
  /** The commit it was made from, when made from a git checkout. */
  commit: string | null;
  madeAt: string;
  cpu: string;
  /** Wall time of the release: training, evaluation, export and the trust figures. */
  seconds: number;
  test: { accuracy: number; loss: number; n: number };
  calibration: { temperature: number; eceBefore: number; eceAfter: number };
  /** The trust bench's open-set figures (bench/non-digits.ts) of the shipped files. */
  notADigit: {
    nonDigitsRefused: number;
    byCategory: Record<string, number>;
    mnistTestRefused: number;
    accuracyAnswered: number;
  };
  /** The prediction sets on the test set (absent in releases made before them): coverage and mean size. */
  predictionSets?: { coverage: number; meanSize: number };
  /** The ONNX export (temperature folded in), what `mnist-cnn export` writes. */
  onnx: { file: string; bytes: number };
  /**
   * Its int8 copy (`export --int8`), shipped when it keeps the test accuracy within the bar of
   * export/verify.ts: the same answer as the model on `sameAnswers` of the test images.
   */
  int8?: { file: string; bytes: number; accuracy: number; sameAnswers: number };
  /** The ONNX file a quick start runs (Predictor `quickStart`): the int8 copy when shipped, the export otherwise. */
  quickStart?: string;
  /** SHA-256 (hex) of each file of the folder but release.json itself. */
  files: Record<string, string>;
}

/**
 * The ONNX file a release starts quickly with (its int8 copy, or its export: temperature and
 * not-a-digit rule of its metadata.json folded in), when the folder is a release whose files are still the ones it recorded: the bytes, or
 * undefined (not a release, or anything changed since, in which case the model itself is used).
 */
export async function releasedOnnxFile(dir: string, metadata: RunMetadata): Promise<Uint8Array | undefined> {
  const recordPath = join(dir, RELEASE_FILE);
  if (!existsSync(recordPath)) return undefined;
  let release: Partial<ReleaseRecord>;
  try {
    release = JSON.parse(await readFile(recordPath, 'utf8')) as Partial<ReleaseRecord>;
  } catch {
    return undefined;
  }
  const files = release.files ?? {};
  const onnxFile = release.quickStart ?? release.onnx?.file;
  if (!onnxFile || files[WEIGHTS_FILE] !== metadata.weightsSha256) return undefined;
  const [bytes, metadataBytes] = await Promise.all([
    readFile(join(dir, onnxFile)).catch(() => undefined),
    readFile(join(dir, RUN_FILES.metadata)),
  ]);
  if (!bytes || sha256Hex(bytes) !== files[onnxFile] || sha256Hex(metadataBytes) !== files[RUN_FILES.metadata])
    return undefined;
  return bytes;
}

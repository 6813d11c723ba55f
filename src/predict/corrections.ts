/**
 * `predict --label L --corrections DIR`: the picture files just read, filed as corrections (what
 * the model saw, 28x28, and the file itself as drawn or photographed) under the label the user
 * gives, into the corrections folder `mnist-cnn finetune` learns from (data/corrections.ts). The
 * page files its corrections the same way, through the server (serve/routes/corrections.ts).
 */
import { readFile } from 'node:fs/promises';
import { makeCorrection, type CorrectionLabel, type DrawnExtension } from '../data/correction-files.js';
import { CorrectionStore } from '../data/corrections.js';
import { sniffImageFormat, type ImageFormat } from '../image/formats.js';
import type { PredictionRow } from './predict-files.js';
import type { Predictor } from './predictor.js';

/** The extension a picture file is kept under, by its format (svg is never a picture we read). */
const EXTENSIONS: Partial<Record<ImageFormat, DrawnExtension>> = {
  png: 'png',
  jpeg: 'jpg',
  webp: 'webp',
  bmp: 'bmp',
  gif: 'gif',
  tiff: 'tif',
  heif: 'heif',
};

export interface FiledCorrections {
  /** Corrections written. */
  filed: number;
  /** Corrections the folder already held with this label. */
  already: number;
  /** Rows not filed, and why. */
  skipped: { file: string; reason: string }[];
}

/**
 * File the image rows of a `predict` run (one digit each, read without error) as corrections
 * labelled `label` into `dir`. A picture over the store's size for drawn pictures is filed without
 * its copy. IDX and CSV rows, and `--number` rows, are not pictures of one digit: skipped.
 */
export async function fileCorrections(
  predictor: Predictor,
  rows: PredictionRow[],
  label: CorrectionLabel,
  dir: string,
): Promise<FiledCorrections> {
  const store = await CorrectionStore.open(dir);
  const result: FiledCorrections = { filed: 0, already: 0, skipped: [] };
  for (const row of rows) {
    if (row.kind !== 'image' || row.error || !row.prediction) {
      result.skipped.push({
        file: row.file,
        reason: row.error
          ? 'it could not be read'
          : row.number
            ? 'a number (--number), not one digit'
            : 'not a picture file (IDX or CSV row)',
      });
      continue;
    }
    const bytes = new Uint8Array(await readFile(row.file));
    const { pixels } = await predictor.preprocessBytes(bytes, row.file);
    const format = sniffImageFormat(bytes);
    const ext = format === undefined ? undefined : EXTENSIONS[format];
    const drawn = ext && bytes.length <= store.limits.maxDrawnBytes ? { bytes, ext } : undefined;
    const saved = await store.add(makeCorrection(label, pixels, drawn));
    if (saved.stored) result.filed++;
    else result.already++;
  }
  return result;
}

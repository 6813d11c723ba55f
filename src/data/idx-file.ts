import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { DataError, UserError } from '../util/errors.js';
import { readRegularFile } from '../util/fs.js';
import { parseIdxImages, parseIdxLabels } from './idx.js';

/**
 * The labels file of an IDX images file: `t10k-images-idx3-ubyte(.gz)` → `t10k-labels-idx1-ubyte`,
 * raw or gzipped. `expected` is the name to report when it is missing, `found` the file that
 * exists. Undefined when the name does not say "images".
 */
function labelsFileFor(imagesPath: string): { expected: string; found?: string } | undefined {
  const name = basename(imagesPath);
  const labelsName = name.replace(/images/i, (m) => (m === 'IMAGES' ? 'LABELS' : 'labels')).replace(/idx3/, 'idx1');
  if (labelsName === name) return undefined;
  const expected = join(dirname(imagesPath), labelsName);
  const other = expected.endsWith('.gz') ? expected.slice(0, -3) : `${expected}.gz`;
  return { expected, found: [expected, other].find((path) => existsSync(path)) };
}

/** The bytes of a regular file (a FIFO or a device named as data would hang or never end: refused, util/fs.ts). */
async function readBytes(path: string): Promise<Uint8Array> {
  return new Uint8Array(await readRegularFile(path, 'IDX data'));
}

/**
 * An IDX images file, with its labels when they lie beside it. With `requireLabels`, labels that
 * cannot be found are an error naming the file expected.
 */
export async function readIdxImageFile(
  imagesPath: string,
  options: { requireLabels?: boolean } = {},
): Promise<{ images: Uint8Array; count: number; labels?: Uint8Array }> {
  const { count, images } = parseIdxImages(await readBytes(imagesPath), imagesPath);
  const labelsFile = labelsFileFor(imagesPath);
  if (options.requireLabels) {
    if (!labelsFile)
      throw new UserError(
        `${imagesPath}: cannot tell its labels file (expected a name with "images" in it, like t10k-images-idx3-ubyte)`,
        imagesPath,
      );
    if (!labelsFile.found)
      throw new UserError(
        `${labelsFile.expected} is missing: the labels of ${imagesPath} must be beside it`,
        labelsFile.expected,
      );
  }
  if (!labelsFile?.found) return { images, count };
  const labels = parseIdxLabels(await readBytes(labelsFile.found), labelsFile.found);
  if (labels.length !== count)
    throw new DataError(labelsFile.found, `has ${labels.length} labels but ${imagesPath} has ${count} images`);
  return { images, count, labels };
}

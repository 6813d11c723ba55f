import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../util/errors.js';
import { NUM_CLASSES, PIXELS, type ImageSet } from './types.js';

/** Images read from class folders, with the path each one came from (for error reports). */
export interface FolderImageSet extends ImageSet {
  paths: string[];
}

/** Reads one image file into the 28x28 white-on-black bytes the model sees (image/digit-file.ts). */
export type DigitDecoder = (path: string) => Promise<Uint8Array>;

/** The class folders of digits: `0/` .. `9/`, each its digit. */
const DIGIT_FOLDERS: Readonly<Record<string, number>> = Object.fromEntries(
  Array.from({ length: NUM_CLASSES }, (_, k) => [String(k), k]),
);

/**
 * Read a folder holding one sub-folder per class (`0/` .. `9/`, or the folders `classes` names
 * with the label of each), each full of images; other sub-folders are not read. Hidden files
 * are skipped; a file that is not an image is an error naming its path. Images come out in
 * class order, then file-name order, so a folder always loads the same way.
 */
export async function loadImageFolder(
  dir: string,
  decode: DigitDecoder,
  classes: Readonly<Record<string, number>> = DIGIT_FOLDERS,
): Promise<FolderImageSet> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    throw new UserError(
      `${dir}: cannot read the folder (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      dir,
    );
  }
  const classDirs = entries
    .filter((e) => e.isDirectory() && Object.hasOwn(classes, e.name))
    .map((e) => e.name)
    .sort((a, b) => classes[a] - classes[b] || (a < b ? -1 : 1));
  if (classDirs.length === 0) {
    const names = classes === DIGIT_FOLDERS ? `0 to ${NUM_CLASSES - 1}` : Object.keys(classes).join(', ');
    throw new UserError(`${dir}: no class folders found (expected sub-folders named ${names}, one per class)`, dir);
  }
  const files: { path: string; label: number }[] = [];
  for (const name of classDirs) {
    const classDir = join(dir, name);
    const names = (await readdir(classDir)).filter((f) => !f.startsWith('.')).sort();
    for (const file of names) {
      const path = join(classDir, file);
      if ((await stat(path)).isFile()) files.push({ path, label: classes[name] });
    }
  }
  if (files.length === 0) throw new UserError(`${dir}: the class folders hold no images`, dir);
  const images = new Uint8Array(files.length * PIXELS);
  const labels = new Uint8Array(files.length);
  for (let i = 0; i < files.length; i++) {
    images.set(await decode(files[i].path), i * PIXELS);
    labels[i] = files[i].label;
  }
  return { images, labels, count: files.length, paths: files.map((f) => f.path) };
}

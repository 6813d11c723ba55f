import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DataError, UserError } from '../util/errors.js';
import { IMAGE_SIZE, NUM_CLASSES, PIXELS, type ImageSet } from './types.js';

/** Images read from class folders, with the path each one came from (for error reports). */
export interface FolderImageSet extends ImageSet {
  paths: string[];
}

/**
 * Decode one image file to the 28x28 white-on-black bytes the model sees. An image already in
 * MNIST form (28x28 gray, dark background) is taken as it is; anything else goes through
 * the one preprocessing of person-made images (src/predict/preprocess.ts).
 */
export async function decodeDigitImage(path: string): Promise<Uint8Array> {
  const { decodeImage } = await import('../predict/decode.js');
  const { preprocessImage, preprocessMnistPixels, hasLightBackground, toGrayscale } = await import('../predict/preprocess.js');
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (err) {
    throw new DataError(path, `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let image;
  try {
    image = await decodeImage(bytes, path);
  } catch (err) {
    throw new DataError(path, `cannot be decoded as an image (${(err as Error).message})`);
  }
  if (image.width === IMAGE_SIZE && image.height === IMAGE_SIZE) {
    // sharp may hand a gray PNG back as RGB: judge by luma, not by the channel count.
    const gray = toGrayscale(image);
    if (!hasLightBackground(gray)) return preprocessMnistPixels(Uint8Array.from(gray.data, Math.round)).pixels;
  }
  return preprocessImage(image).pixels;
}

const CLASS_FOLDER = /^[0-9]$/;

/**
 * Read a folder holding one sub-folder per class (`0/` .. `9/`), each full of images. Hidden
 * files are skipped; a file that is not an image is an error naming its path. Images come
 * out in class order, then file-name order, so a folder always loads the same way.
 */
export async function loadImageFolder(dir: string): Promise<FolderImageSet> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    throw new UserError(`${dir}: cannot read the folder (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, dir);
  }
  const classDirs = entries.filter((e) => e.isDirectory() && CLASS_FOLDER.test(e.name)).map((e) => e.name).sort();
  if (classDirs.length === 0) {
    throw new UserError(`${dir}: no class folders found (expected sub-folders named 0 to ${NUM_CLASSES - 1}, one per class)`, dir);
  }
  const files: { path: string; label: number }[] = [];
  for (const name of classDirs) {
    const classDir = join(dir, name);
    const names = (await readdir(classDir)).filter((f) => !f.startsWith('.')).sort();
    for (const file of names) {
      const path = join(classDir, file);
      if ((await stat(path)).isFile()) files.push({ path, label: Number(name) });
    }
  }
  if (files.length === 0) throw new UserError(`${dir}: the class folders hold no images`, dir);
  const images = new Uint8Array(files.length * PIXELS);
  const labels = new Uint8Array(files.length);
  for (let i = 0; i < files.length; i++) {
    images.set(await decodeDigitImage(files[i].path), i * PIXELS);
    labels[i] = files[i].label;
  }
  return { images, labels, count: files.length, paths: files.map((f) => f.path) };
}

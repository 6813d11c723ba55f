import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DataError, UserError } from '../util/errors.js';
import { IMAGE_SIZE, NUM_CLASSES, PIXELS, type ImageSet } from './types.js';

/** Images read from class folders, with the path each one came from (for error reports). */
export interface FolderImageSet extends ImageSet {
  paths: string[];
}

export interface FolderOptions {
  /**
   * `auto` (default) makes dark-on-light images white-on-black like MNIST, judging by the
   * border, which is background in a centred digit; `true`/`false` force it.
   */
  invert?: 'auto' | boolean;
}

/** A 28x28 image whose border is brighter than mid-grey is taken to be dark ink on light paper. */
export function looksDarkOnLight(pixels: Uint8Array): boolean {
  let sum = 0;
  let n = 0;
  for (let y = 0; y < IMAGE_SIZE; y++) {
    for (let x = 0; x < IMAGE_SIZE; x++) {
      if (y === 0 || y === IMAGE_SIZE - 1 || x === 0 || x === IMAGE_SIZE - 1) {
        sum += pixels[y * IMAGE_SIZE + x];
        n++;
      }
    }
  }
  return sum / n > 127;
}

/**
 * Decode one image file to 28x28 grayscale bytes, white on black. An image that is already
 * 28x28 grayscale is read as it is; any other size gets a plain resize to 28x28 (no cropping
 * or centring: the full preprocessing of a person's photo lives in src/predict/preprocess.ts).
 * Transparency is flattened onto black, as a canvas drawing with white ink expects.
 */
export async function decodeDigitImage(path: string, options: FolderOptions = {}): Promise<Uint8Array> {
  const { default: sharp } = await import('sharp');
  let pixels: Uint8Array;
  try {
    const image = sharp(path);
    const { width, height } = await image.metadata();
    let pipeline = image.flatten({ background: '#000000' }).greyscale();
    if (width !== IMAGE_SIZE || height !== IMAGE_SIZE) {
      pipeline = pipeline.resize(IMAGE_SIZE, IMAGE_SIZE, { fit: 'fill', kernel: 'lanczos3' });
    }
    const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 1 || data.length !== PIXELS) {
      throw new Error(`decoded to ${info.width}x${info.height}x${info.channels}, expected ${IMAGE_SIZE}x${IMAGE_SIZE}x1`);
    }
    pixels = new Uint8Array(data.buffer, data.byteOffset, data.length);
  } catch (err) {
    throw new DataError(path, `cannot be decoded as an image (${(err as Error).message})`);
  }
  const invert = options.invert ?? 'auto';
  if (invert === true || (invert === 'auto' && looksDarkOnLight(pixels))) {
    for (let i = 0; i < pixels.length; i++) pixels[i] = 255 - pixels[i];
  }
  return pixels;
}

const CLASS_FOLDER = /^[0-9]$/;

/**
 * Read a folder holding one sub-folder per class (`0/` .. `9/`), each full of images. Hidden
 * files are skipped; a file that is not an image is an error naming its path. Images come
 * out in class order, then file-name order, so a folder always loads the same way.
 */
export async function loadImageFolder(dir: string, options: FolderOptions = {}): Promise<FolderImageSet> {
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
    images.set(await decodeDigitImage(files[i].path, options), i * PIXELS);
    labels[i] = files[i].label;
  }
  return { images, labels, count: files.length, paths: files.map((f) => f.path) };
}

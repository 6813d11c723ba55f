import { readFile } from 'node:fs/promises';
import { IMAGE_SIZE } from '../data/types.js';
import { DataError } from '../util/errors.js';
import { decodeImage } from './decode.js';
import { hasLightBackground, preprocessImage, preprocessMnistPixels, toGrayscale } from './preprocess.js';

/**
 * Decode one image file to the 28x28 white-on-black bytes the model sees. An image already in
 * MNIST form (28x28 gray, dark background) is taken as it is; anything else goes through
 * the one preprocessing of person-made images (preprocess.ts). The class-folder reader (data/folder.ts) is handed this function.
 */
export async function decodeDigitImage(path: string): Promise<Uint8Array> {
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

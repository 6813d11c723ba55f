/**
 * Pictures in the browser → the RawImage that the shared preprocessing reads.
 */
import { TUNING, type RawImage } from '../../image/preprocess.js';

export function rawImageOf(image: ImageData): RawImage {
  return { data: image.data, width: image.width, height: image.height, channels: 4 };
}

/**
 * Decode an image file. Large photos are drawn smaller first: the preprocessing would shrink
 * them to the same working size anyway, and a 12-megapixel getImageData costs ~50 MB.
 */
export async function decodePicture(file: File): Promise<{ bitmap: ImageBitmap; pixels: ImageData }> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    throw new Error(`${file.name || 'the file'} is not an image this browser can read (try PNG or JPEG)`);
  }
  const side = Math.max(bitmap.width, bitmap.height);
  const scale = Math.min(1, TUNING.maxWorkingSide / side);
  const width = Math.max(1, Math.round(bitmap.width * scale));
  const height = Math.max(1, Math.round(bitmap.height * scale));
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext('2d', { willReadFrequently: true });
  if (!context) throw new Error('this browser cannot draw on a canvas');
  context.drawImage(bitmap, 0, 0, width, height);
  return { bitmap, pixels: context.getImageData(0, 0, width, height) };
}

/** The 28x28 bytes the model sees, shown on the preview canvas. */
export function drawPreview(canvas: HTMLCanvasElement, pixels: Uint8Array, size: number): void {
  const context = canvas.getContext('2d');
  if (!context) return;
  const image = context.createImageData(size, size);
  for (let i = 0; i < size * size; i++) {
    const v = pixels[i];
    image.data[4 * i] = v;
    image.data[4 * i + 1] = v;
    image.data[4 * i + 2] = v;
    image.data[4 * i + 3] = 255;
  }
  context.putImageData(image, 0, 0);
}

/**
 * Pictures in a browser → the RawImage the shared preprocessing reads (image/preprocess.ts):
 * what the browser decodes itself (image files, <img>, canvases, bitmaps) is drawn on a canvas
 * and read back. The browser reader and the page's uploads both come through here.
 */
import { TUNING, type RawImage } from '../image/preprocess.js';

/** ImageData → the shared RawImage (RGBA). */
export function rawImageOfImageData(image: ImageData): RawImage {
  return { data: image.data, width: image.width, height: image.height, channels: 4 };
}

/** Anything a 2-D canvas can draw, with its size. */
export type Drawable = CanvasImageSource & ({ width: number; height: number } | HTMLImageElement);

function sizeOf(source: Drawable): { width: number; height: number } {
  if (typeof HTMLImageElement !== 'undefined' && source instanceof HTMLImageElement)
    return { width: source.naturalWidth, height: source.naturalHeight };
  if (typeof HTMLVideoElement !== 'undefined' && source instanceof HTMLVideoElement)
    return { width: source.videoWidth, height: source.videoHeight };
  const { width, height } = source as { width: number | SVGAnimatedLength; height: number | SVGAnimatedLength };
  return {
    width: typeof width === 'number' ? width : width.baseVal.value,
    height: typeof height === 'number' ? height : height.baseVal.value,
  };
}

/**
 * The pixels of a drawable picture. Large ones are drawn smaller first: the preprocessing would
 * shrink them to the same working size anyway, and a 12-megapixel getImageData costs ~50 MB.
 */
export function pixelsOf(source: Drawable, what = 'the picture'): ImageData {
  const size = sizeOf(source);
  if (!(size.width > 0 && size.height > 0))
    throw new Error(`${what} has no pixels (${size.width}x${size.height}): is it loaded?`);
  const scale = Math.min(1, TUNING.maxWorkingSide / Math.max(size.width, size.height));
  const width = Math.max(1, Math.round(size.width * scale));
  const height = Math.max(1, Math.round(size.height * scale));
  const canvas =
    typeof OffscreenCanvas !== 'undefined'
      ? new OffscreenCanvas(width, height)
      : Object.assign(document.createElement('canvas'), { width, height });
  const context = canvas.getContext('2d', { willReadFrequently: true });
  if (!context) throw new Error('this browser cannot draw on a canvas');
  context.drawImage(source, 0, 0, width, height);
  try {
    return context.getImageData(0, 0, width, height);
  } catch (err) {
    // A picture from another origin without CORS taints the canvas: its pixels cannot be read.
    throw new Error(
      `${what}: its pixels cannot be read (${(err as Error).message}); a picture from another site needs CORS (crossorigin="anonymous")`,
      { cause: err },
    );
  }
}

/** An image file (Blob, File) → decoded by the browser → a bitmap to show and its pixels. */
export async function decodePicture(
  file: Blob,
  what = file instanceof File && file.name ? file.name : 'the file',
): Promise<{ bitmap: ImageBitmap; pixels: ImageData }> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    throw new Error(`${what} is not an image this browser can read (try PNG or JPEG)`);
  }
  return { bitmap, pixels: pixelsOf(bitmap, what) };
}

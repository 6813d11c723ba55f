import type { RgbaImage } from '../../model/layer-views.js';

/**
 * The 28x28 bytes the model sees, shown on the preview canvas. (Pictures → pixels:
 * src/browser/pictures.ts, shared with the browser reader.)
 */
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

/** An RGBA image onto a canvas at its own size (the stylesheet scales it up, pixelated). */
export function drawRgba(canvas: HTMLCanvasElement, { width, height, rgba }: RgbaImage): void {
  if (canvas.width !== width) canvas.width = width;
  if (canvas.height !== height) canvas.height = height;
  const context = canvas.getContext('2d');
  if (!context) return;
  const image = context.createImageData(width, height);
  image.data.set(rgba);
  context.putImageData(image, 0, 0);
}

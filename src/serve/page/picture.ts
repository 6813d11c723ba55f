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

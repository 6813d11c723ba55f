/**
 * im2col, written straight into wasm memory, for the filter gradient of convolutions with few
 * input channels: ~2 ms for a batch of 128 28x28 1-channel images and a 3x3 filter.
 */
export interface PatchGeometry {
  batch: number;
  inHeight: number;
  inWidth: number;
  outHeight: number;
  outWidth: number;
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  padTop: number;
  padLeft: number;
}

/**
 * Fills `out` ([positions, kh·kw·cin], one output position per row, [ky, kx, c] order within a
 * row) with the input values each filter tap sees; 0 where the tap falls in the padding. Read
 * straight from an NHWC input: each tap copies cin contiguous channels.
 */
export function fillPatchesByPosition(x: Float32Array, g: PatchGeometry, channels: number, out: Float32Array): void {
  const { batch, inHeight, inWidth, outHeight, outWidth, filterHeight, filterWidth, strideHeight, strideWidth, padTop, padLeft } = g;
  const rowLength = filterHeight * filterWidth * channels;
  let o = 0;
  for (let n = 0; n < batch; n++) {
    for (let oy = 0; oy < outHeight; oy++) {
      for (let ox = 0; ox < outWidth; ox++) {
        for (let ky = 0; ky < filterHeight; ky++) {
          const iy = oy * strideHeight + ky - padTop;
          const rowInside = iy >= 0 && iy < inHeight;
          for (let kx = 0; kx < filterWidth; kx++) {
            const ix = ox * strideWidth + kx - padLeft;
            if (rowInside && ix >= 0 && ix < inWidth) {
              const src = ((n * inHeight + iy) * inWidth + ix) * channels;
              for (let c = 0; c < channels; c++) out[o + c] = x[src + c];
            } else {
              for (let c = 0; c < channels; c++) out[o + c] = 0;
            }
            o += channels;
          }
        }
      }
    }
  }
  if (o !== batch * outHeight * outWidth * rowLength) throw new Error('fillPatchesByPosition: geometry does not match the output size');
}

/**
 * The adjoint of fillPatchesByPosition (col2im): adds each patch value back onto the input
 * pixel it was read from. `out` must start zeroed; taps in the padding are dropped.
 */
export function addPatchesByPosition(patches: Float32Array, g: PatchGeometry, channels: number, out: Float32Array): void {
  const { batch, inHeight, inWidth, outHeight, outWidth, filterHeight, filterWidth, strideHeight, strideWidth, padTop, padLeft } = g;
  let o = 0;
  for (let n = 0; n < batch; n++) {
    for (let oy = 0; oy < outHeight; oy++) {
      for (let ox = 0; ox < outWidth; ox++) {
        for (let ky = 0; ky < filterHeight; ky++) {
          const iy = oy * strideHeight + ky - padTop;
          const rowInside = iy >= 0 && iy < inHeight;
          for (let kx = 0; kx < filterWidth; kx++) {
            const ix = ox * strideWidth + kx - padLeft;
            if (rowInside && ix >= 0 && ix < inWidth) {
              const dst = ((n * inHeight + iy) * inWidth + ix) * channels;
              for (let c = 0; c < channels; c++) out[dst + c] += patches[o + c];
            }
            o += channels;
          }
        }
      }
    }
  }
}

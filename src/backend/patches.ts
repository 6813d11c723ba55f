/**
 * im2col and its adjoint, written straight into wasm memory, for the convolution gradients that
 * run as matMuls: by position (one patch per row) and by tap (one filter tap per row, for
 * stride-1 'same' geometry).
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
  const {
    batch,
    inHeight,
    inWidth,
    outHeight,
    outWidth,
    filterHeight,
    filterWidth,
    strideHeight,
    strideWidth,
    padTop,
    padLeft,
  } = g;
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
  if (o !== batch * outHeight * outWidth * rowLength)
    throw new Error('fillPatchesByPosition: geometry does not match the output size');
}

/**
 * The adjoint of fillPatchesByPosition (col2im): adds each patch value back onto the input
 * pixel it was read from. `out` must start zeroed; taps in the padding are dropped.
 */
export function addPatchesByPosition(
  patches: Float32Array,
  g: PatchGeometry,
  channels: number,
  out: Float32Array,
): void {
  const {
    batch,
    inHeight,
    inWidth,
    outHeight,
    outWidth,
    filterHeight,
    filterWidth,
    strideHeight,
    strideWidth,
    padTop,
    padLeft,
  } = g;
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

/**
 * True when every filter tap reads the input shifted by a fixed offset (stride 1, output as
 * high and wide as the input: 'same' padding at stride 1), so that fillTapsShifted applies.
 */
export function tapsAreShifts(g: PatchGeometry): boolean {
  return g.strideHeight === 1 && g.strideWidth === 1 && g.outHeight === g.inHeight && g.outWidth === g.inWidth;
}

/**
 * im2col transposed, for images `first` .. `first + count - 1`: fills `out` ([kh·kw·cin,
 * count·oh·ow], rows in [ky, kx, c] order, i.e. the filter's own order) from the input seen as
 * xT [cin, batch, h, w]. Needs tapsAreShifts(g). Each tap of each channel is then one shifted
 * block copy of the chunk's images (TypedArray.set, a memcpy), after which the values that
 * wrapped in from a neighbouring row or image are zeroed: for the 7.2 M values of a batch of
 * 128 14x14x32 inputs and a 3x3 filter, several times faster than a loop that writes value by
 * value (whose time is V8's per-element typed-array writes).
 */
export function fillTapsShifted(
  xT: Float32Array,
  g: PatchGeometry,
  channels: number,
  first: number,
  count: number,
  out: Float32Array,
): void {
  if (!tapsAreShifts(g)) throw new Error('fillTapsShifted: needs stride 1 and an output as large as the input');
  const { batch, inHeight: h, inWidth: w, filterHeight, filterWidth, padTop, padLeft } = g;
  if (first < 0 || count < 1 || first + count > batch)
    throw new Error(`fillTapsShifted: images ${first}..${first + count - 1} are outside the batch of ${batch}`);
  const plane = h * w;
  const length = count * plane;
  if (out.length < filterHeight * filterWidth * channels * length)
    throw new Error('fillTapsShifted: the output is smaller than the patches');
  let o = 0;
  for (let ky = 0; ky < filterHeight; ky++) {
    const rowShift = ky - padTop;
    const rowsOut = Math.min(h, Math.abs(rowShift)); // rows of each image that read the padding
    for (let kx = 0; kx < filterWidth; kx++) {
      const colShift = kx - padLeft;
      const colsOut = Math.min(w, Math.abs(colShift));
      const shift = rowShift * w + colShift;
      // Inside the chunk's block, out[i] = block[i + shift]; outside it, 0 for now.
      const from = Math.min(length, Math.max(0, -shift));
      const to = Math.max(from, Math.min(length, length - shift));
      for (let c = 0; c < channels; c++) {
        const block = (c * batch + first) * plane;
        if (from > 0) out.fill(0, o, o + from);
        if (to > from) out.set(xT.subarray(block + from + shift, block + to + shift), o + from);
        if (to < length) out.fill(0, o + to, o + length);
        for (let image = o; image < o + length; image += plane) {
          if (rowShift < 0) out.fill(0, image, image + rowsOut * w);
          else if (rowShift > 0) out.fill(0, image + (h - rowsOut) * w, image + plane);
          if (colShift < 0) {
            for (let row = image; row < image + plane; row += w) for (let x = 0; x < colsOut; x++) out[row + x] = 0;
          } else if (colShift > 0) {
            for (let row = image + w - colsOut; row < image + plane; row += w)
              for (let x = 0; x < colsOut; x++) out[row + x] = 0;
          }
        }
        o += length;
      }
    }
  }
}

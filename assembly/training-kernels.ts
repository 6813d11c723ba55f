// Training kernels in WebAssembly SIMD (AssemblyScript), run on the wasm backend's own memory:
// every pointer is a byte offset into TensorFlow.js's heap (src/backend/simd.ts passes them).
// No allocation and no static data here: the module imports that memory and owns none of it.
// Build: `npm run build:kernels` (scripts/build-kernels.mjs) regenerates src/backend/simd-binary.ts.

// ---------------------------------------------------------------------------------------------
// Convolution filter gradient, stride 1:
//   dW[ky, kx, ci, co] = Σ over images, y < oh, x < ow of xp[y + ky, x + kx, ci] · dy[y, x, co]
// where xp is the image padded by (padTop, padLeft) with zeros. For a fixed ky the kw·cin values
// (kx, ci) of a padded row are contiguous, so dW[ky] is a [kw·cin, cout] product: blocks of
// 3 of its rows × 16 output channels stay in 12 registers while a whole image streams past.
// ---------------------------------------------------------------------------------------------

/** Copies image `image` of x [batch, h, w, cin] into pad [ph, pw, cin] with zeros around it. */
function padImage(x: usize, pad: usize, image: i32, h: i32, w: i32, cin: i32, ph: i32, pw: i32, padTop: i32, padLeft: i32): void {
  const rowBytes = <usize>(pw * cin) << 2;
  memory.fill(pad, 0, rowBytes * <usize>ph);
  const src = x + ((<usize>image * <usize>(h * w * cin)) << 2);
  const copyBytes = <usize>(w * cin) << 2;
  for (let y = 0; y < h; y++) {
    const to = pad + rowBytes * <usize>(y + padTop) + (<usize>(padLeft * cin) << 2);
    memory.copy(to, src + copyBytes * <usize>y, copyBytes);
  }
}

/**
 * Adds the filter gradient of images [first, first + count) to dW [kh, kw, cin, cout] (not zeroed
 * here). `pad` is scratch for one padded image of (oh + kh - 1) x (ow + kw - 1) x cin floats.
 * Needs cout divisible by 4.
 */
export function convFilterGrad(
  x: usize, dy: usize, dw: usize, pad: usize,
  first: i32, count: i32, h: i32, w: i32, cin: i32, oh: i32, ow: i32, cout: i32,
  kh: i32, kw: i32, padTop: i32, padLeft: i32,
): void {
  const ph = oh + kh - 1;
  const pw = ow + kw - 1;
  const rowLen = kw * cin;
  const padRow = <usize>(pw * cin) << 2;
  const dyImage = <usize>(oh * ow * cout) << 2;
  for (let image = first; image < first + count; image++) {
    padImage(x, pad, image, h, w, cin, ph, pw, padTop, padLeft);
    const d = dy + dyImage * <usize>image;
    let co = 0;
    // 4 rows x 8 channels where the rows divide by 4 (32→64: ~33 GFLOP/s against ~25 for 3x16),
    // else 3 x 16 (a first layer's 3 rows of kx taps: ~22 GFLOP/s against ~8 by single rows).
    const fourRows = rowLen % 4 == 0;
    const width = fourRows ? 8 : 16;
    const rows = fourRows ? 4 : 3;
    for (; co + width <= cout; co += width) {
      for (let ky = 0; ky < kh; ky++) {
        let r = 0;
        const xp = pad + padRow * <usize>ky;
        const dc = d + (<usize>co << 2);
        for (; r + rows <= rowLen; r += rows) {
          const o = dw + ((<usize>((ky * rowLen + r) * cout + co)) << 2);
          const xr = xp + (<usize>r << 2);
          if (fourRows) gradBlock4x8(xr, dc, o, oh, ow, cin, cout, padRow);
          else gradBlock3x16(xr, dc, o, oh, ow, cin, cout, padRow);
        }
        for (; r < rowLen; r++) gradBlock1x4(xp + (<usize>r << 2), dc, dw + ((<usize>((ky * rowLen + r) * cout + co)) << 2), oh, ow, cin, cout, padRow, width >> 2);
      }
    }
    if (co < cout) {
      const vectors = (cout - co) >> 2;
      for (let ky = 0; ky < kh; ky++) {
        for (let r = 0; r < rowLen; r++) gradBlock1x4(pad + padRow * <usize>ky + (<usize>r << 2), d + (<usize>co << 2), dw + ((<usize>((ky * rowLen + r) * cout + co)) << 2), oh, ow, cin, cout, padRow, vectors);
      }
    }
  }
}

/** dW rows r..r+2, channels co..co+15 (at `out`, row stride cout) += Σ over one image. */
// @ts-ignore: decorator
@inline
function gradBlock3x16(xp: usize, d: usize, out: usize, oh: i32, ow: i32, cin: i32, cout: i32, padRow: usize): void {
  const dwRow = <usize>cout << 2;
  let a00 = v128.load(out + 0 * dwRow, 0); let a01 = v128.load(out + 0 * dwRow, 16); let a02 = v128.load(out + 0 * dwRow, 32); let a03 = v128.load(out + 0 * dwRow, 48);
  let a10 = v128.load(out + 1 * dwRow, 0); let a11 = v128.load(out + 1 * dwRow, 16); let a12 = v128.load(out + 1 * dwRow, 32); let a13 = v128.load(out + 1 * dwRow, 48);
  let a20 = v128.load(out + 2 * dwRow, 0); let a21 = v128.load(out + 2 * dwRow, 16); let a22 = v128.load(out + 2 * dwRow, 32); let a23 = v128.load(out + 2 * dwRow, 48);
  const xStep = <usize>cin << 2;
  const dStep = <usize>cout << 2;
  for (let y = 0; y < oh; y++) {
    let p = xp + padRow * <usize>y;
    let q = d + dStep * <usize>(y * ow);
    const end = q + dStep * <usize>ow;
    while (q < end) {
      const d0 = v128.load(q, 0); const d1 = v128.load(q, 16); const d2 = v128.load(q, 32); const d3 = v128.load(q, 48);
      const s0 = v128.load32_splat(p, 0);
      a00 = f32x4.add(a00, f32x4.mul(s0, d0)); a01 = f32x4.add(a01, f32x4.mul(s0, d1)); a02 = f32x4.add(a02, f32x4.mul(s0, d2)); a03 = f32x4.add(a03, f32x4.mul(s0, d3));
      const s1 = v128.load32_splat(p, 4);
      a10 = f32x4.add(a10, f32x4.mul(s1, d0)); a11 = f32x4.add(a11, f32x4.mul(s1, d1)); a12 = f32x4.add(a12, f32x4.mul(s1, d2)); a13 = f32x4.add(a13, f32x4.mul(s1, d3));
      const s2 = v128.load32_splat(p, 8);
      a20 = f32x4.add(a20, f32x4.mul(s2, d0)); a21 = f32x4.add(a21, f32x4.mul(s2, d1)); a22 = f32x4.add(a22, f32x4.mul(s2, d2)); a23 = f32x4.add(a23, f32x4.mul(s2, d3));
      p += xStep;
      q += dStep;
    }
  }
  v128.store(out + 0 * dwRow, a00, 0); v128.store(out + 0 * dwRow, a01, 16); v128.store(out + 0 * dwRow, a02, 32); v128.store(out + 0 * dwRow, a03, 48);
  v128.store(out + 1 * dwRow, a10, 0); v128.store(out + 1 * dwRow, a11, 16); v128.store(out + 1 * dwRow, a12, 32); v128.store(out + 1 * dwRow, a13, 48);
  v128.store(out + 2 * dwRow, a20, 0); v128.store(out + 2 * dwRow, a21, 16); v128.store(out + 2 * dwRow, a22, 32); v128.store(out + 2 * dwRow, a23, 48);
}

/** dW rows r..r+3, channels co..co+7 (at `out`, row stride cout) += Σ over one image. */
// @ts-ignore: decorator
@inline
function gradBlock4x8(xp: usize, d: usize, out: usize, oh: i32, ow: i32, cin: i32, cout: i32, padRow: usize): void {
  const dwRow = <usize>cout << 2;
  let a00 = v128.load(out + 0 * dwRow, 0); let a01 = v128.load(out + 0 * dwRow, 16);
  let a10 = v128.load(out + 1 * dwRow, 0); let a11 = v128.load(out + 1 * dwRow, 16);
  let a20 = v128.load(out + 2 * dwRow, 0); let a21 = v128.load(out + 2 * dwRow, 16);
  let a30 = v128.load(out + 3 * dwRow, 0); let a31 = v128.load(out + 3 * dwRow, 16);
  const xStep = <usize>cin << 2;
  const dStep = <usize>cout << 2;
  for (let y = 0; y < oh; y++) {
    let p = xp + padRow * <usize>y;
    let q = d + dStep * <usize>(y * ow);
    const end = q + dStep * <usize>ow;
    while (q < end) {
      const d0 = v128.load(q, 0); const d1 = v128.load(q, 16);
      const s0 = v128.load32_splat(p, 0);
      a00 = f32x4.add(a00, f32x4.mul(s0, d0)); a01 = f32x4.add(a01, f32x4.mul(s0, d1));
      const s1 = v128.load32_splat(p, 4);
      a10 = f32x4.add(a10, f32x4.mul(s1, d0)); a11 = f32x4.add(a11, f32x4.mul(s1, d1));
      const s2 = v128.load32_splat(p, 8);
      a20 = f32x4.add(a20, f32x4.mul(s2, d0)); a21 = f32x4.add(a21, f32x4.mul(s2, d1));
      const s3 = v128.load32_splat(p, 12);
      a30 = f32x4.add(a30, f32x4.mul(s3, d0)); a31 = f32x4.add(a31, f32x4.mul(s3, d1));
      p += xStep;
      q += dStep;
    }
  }
  v128.store(out + 0 * dwRow, a00, 0); v128.store(out + 0 * dwRow, a01, 16);
  v128.store(out + 1 * dwRow, a10, 0); v128.store(out + 1 * dwRow, a11, 16);
  v128.store(out + 2 * dwRow, a20, 0); v128.store(out + 2 * dwRow, a21, 16);
  v128.store(out + 3 * dwRow, a30, 0); v128.store(out + 3 * dwRow, a31, 16);
}

/** One dW row, `vectors` groups of 4 channels from co on, one vector at a time (remainders). */
function gradBlock1x4(xp: usize, d: usize, out: usize, oh: i32, ow: i32, cin: i32, cout: i32, padRow: usize, vectors: i32): void {
  const xStep = <usize>cin << 2;
  const dStep = <usize>cout << 2;
  for (let v = 0; v < vectors; v++) {
    const o = out + (<usize>v << 4);
    let a = v128.load(o);
    for (let y = 0; y < oh; y++) {
      let p = xp + padRow * <usize>y;
      let q = d + (<usize>v << 4) + dStep * <usize>(y * ow);
      for (let x = 0; x < ow; x++) {
        a = f32x4.add(a, f32x4.mul(v128.load32_splat(p), v128.load(q)));
        p += xStep;
        q += dStep;
      }
    }
    v128.store(o, a);
  }
}

// ---------------------------------------------------------------------------------------------
// 2x2, stride-2, unpadded max-pool gradient (NHWC, channels divisible by 4): each window's
// gradient goes to the first of its four inputs (row-major) that equals the pooled output,
// exactly as the cpu backend routes it; the other three get 0, so dx needs no zeroing except
// an odd last row or column, which belongs to no window.
// ---------------------------------------------------------------------------------------------

export function maxPoolGrad2x2(x: usize, y: usize, dy: usize, dx: usize, batch: i32, h: i32, w: i32, c: i32, oh: i32, ow: i32): void {
  const channelBytes = <usize>c << 2;
  const rowBytes = channelBytes * <usize>w;
  if (h != 2 * oh || w != 2 * ow) memory.fill(dx, 0, rowBytes * <usize>(h * batch));
  let g: usize = 0; // byte offset into y and dy
  for (let b = 0; b < batch; b++) {
    for (let oy = 0; oy < oh; oy++) {
      let a = rowBytes * <usize>(b * h + 2 * oy);
      for (let ox = 0; ox < ow; ox++) {
        const end = a + channelBytes;
        for (let i = a; i < end; i += 16, g += 16) {
          const m = v128.load(y + g);
          const grad = v128.load(dy + g);
          const x0 = v128.load(x + i);
          const x1 = v128.load(x + i + channelBytes);
          const x2 = v128.load(x + i + rowBytes);
          const x3 = v128.load(x + i + rowBytes + channelBytes);
          const e0 = f32x4.eq(x0, m);
          let taken = e0;
          const e1 = v128.andnot(f32x4.eq(x1, m), taken);
          taken = v128.or(taken, e1);
          const e2 = v128.andnot(f32x4.eq(x2, m), taken);
          taken = v128.or(taken, e2);
          const e3 = v128.andnot(f32x4.eq(x3, m), taken);
          taken = v128.or(taken, e3);
          v128.store(dx + i, v128.and(grad, e0));
          v128.store(dx + i + channelBytes, v128.and(grad, e1));
          v128.store(dx + i + rowBytes, v128.and(grad, e2));
          v128.store(dx + i + rowBytes + channelBytes, v128.and(grad, e3));
          // A lane where no input equals y (a NaN, or a y not pooled from this x): first maximum by comparison.
          if (!i32x4.all_true(taken)) {
            if (i32x4.extract_lane(taken, 0) == 0) routeByComparison(x, dy, dx, i, g, channelBytes, rowBytes);
            if (i32x4.extract_lane(taken, 1) == 0) routeByComparison(x, dy, dx, i + 4, g + 4, channelBytes, rowBytes);
            if (i32x4.extract_lane(taken, 2) == 0) routeByComparison(x, dy, dx, i + 8, g + 8, channelBytes, rowBytes);
            if (i32x4.extract_lane(taken, 3) == 0) routeByComparison(x, dy, dx, i + 12, g + 12, channelBytes, rowBytes);
          }
        }
        a += 2 * channelBytes;
      }
    }
  }
}

/** One channel of one window (byte offsets i into x and dx, g into dy): the first maximum wins. */
function routeByComparison(x: usize, dy: usize, dx: usize, i: usize, g: usize, channelBytes: usize, rowBytes: usize): void {
  let at = i;
  if (load<f32>(x + i + channelBytes) > load<f32>(x + at)) at = i + channelBytes;
  if (load<f32>(x + i + rowBytes) > load<f32>(x + at)) at = i + rowBytes;
  if (load<f32>(x + i + rowBytes + channelBytes) > load<f32>(x + at)) at = i + rowBytes + channelBytes;
  store<f32>(dx + i, 0);
  store<f32>(dx + i + channelBytes, 0);
  store<f32>(dx + i + rowBytes, 0);
  store<f32>(dx + i + rowBytes + channelBytes, 0);
  store<f32>(dx + at, load<f32>(dy + g));
}

// ---------------------------------------------------------------------------------------------
// Column sums of x seen as [rows, columns] (columns divisible by 4): the bias gradients and
// batch-norm moments, Σ over the batch and the pixels. Rows go in blocks whose partial sums
// are added to out, so that no running sum grows over more than BLOCK rows.
// ---------------------------------------------------------------------------------------------

const BLOCK = 64;

export function columnSums(x: usize, out: usize, rows: i32, columns: i32, scale: f32): void {
  const rowBytes = <usize>columns << 2;
  memory.fill(out, 0, rowBytes);
  for (let r0 = 0; r0 < rows; r0 += BLOCK) {
    const r1 = min(rows, r0 + BLOCK);
    let c: usize = 0;
    for (; c + 64 <= rowBytes; c += 64) {
      let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0);
      let p = x + rowBytes * <usize>r0 + c;
      for (let r = r0; r < r1; r++, p += rowBytes) {
        s0 = f32x4.add(s0, v128.load(p));
        s1 = f32x4.add(s1, v128.load(p, 16));
        s2 = f32x4.add(s2, v128.load(p, 32));
        s3 = f32x4.add(s3, v128.load(p, 48));
      }
      const o = out + c;
      v128.store(o, f32x4.add(v128.load(o), s0));
      v128.store(o, f32x4.add(v128.load(o, 16), s1), 16);
      v128.store(o, f32x4.add(v128.load(o, 32), s2), 32);
      v128.store(o, f32x4.add(v128.load(o, 48), s3), 48);
    }
    for (; c < rowBytes; c += 16) {
      let s = f32x4.splat(0);
      let p = x + rowBytes * <usize>r0 + c;
      for (let r = r0; r < r1; r++, p += rowBytes) s = f32x4.add(s, v128.load(p));
      v128.store(out + c, f32x4.add(v128.load(out + c), s));
    }
  }
  if (scale != 1) {
    const k = f32x4.splat(scale);
    for (let c: usize = 0; c < rowBytes; c += 16) v128.store(out + c, f32x4.mul(v128.load(out + c), k));
  }
}

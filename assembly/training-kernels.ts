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
    // 4 rows x 8 channels where the rows divide by 4 (faster than 3 x 16 for 32→64), else 3 x 16
    // (a first layer's 3 rows of kx taps: faster than single rows; npm run bench:kernels).
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

// ---------------------------------------------------------------------------------------------
// Winograd F(2x2, 3x3) for stride-1 3x3 convolutions (channels divisible by 4, output channels
// by 8): each 4x4 tile of the padded input gives a 2x2 tile of the output through 16 products
// per channel pair instead of 36. With Bᵀ, G, Aᵀ the usual matrices:
//   forward       Y  = Aᵀ [ U ⊙ V ] A,          U = G g Gᵀ (filter), V = Bᵀ d B (input tile)
//   filter grad   dU = Σ over tiles V ⊙ Z,      Z = A dY Aᵀ (output-gradient tile), dg = Gᵀ dU G
// the sums over channels (forward) and over tiles (filter gradient) being 16 matrix products.
// The input gradient is the forward convolution of dy with the flipped, channel-swapped filter.
// Per image, scratch holds the padded image, V [16, tiles, cin] and M or Z [16, tiles, cout].
// ---------------------------------------------------------------------------------------------

/**
 * U [16, cin, cout] = G g Gᵀ for every channel pair of w. Forward: w is [3, 3, cin, cout]. For
 * the input gradient (flipped = 1) w is the forward filter [3, 3, cout, cin] of the convolution
 * whose input gradient this is: g[ky][kx][ci][co] = w[2 - ky][2 - kx][co][ci].
 */
export function winogradFilter(w: usize, u: usize, cin: i32, cout: i32, flipped: i32): void {
  const plane = cin * cout;
  for (let ci = 0; ci < cin; ci++) {
    for (let co = 0; co < cout; co++) {
      // g as 9 values, row-major
      let g0: f32, g1: f32, g2: f32, g3: f32, g4: f32, g5: f32, g6: f32, g7: f32, g8: f32;
      if (flipped) {
        const at = co * cin + ci;
        g0 = load<f32>(w + (<usize>(8 * plane + at) << 2)); g1 = load<f32>(w + (<usize>(7 * plane + at) << 2)); g2 = load<f32>(w + (<usize>(6 * plane + at) << 2));
        g3 = load<f32>(w + (<usize>(5 * plane + at) << 2)); g4 = load<f32>(w + (<usize>(4 * plane + at) << 2)); g5 = load<f32>(w + (<usize>(3 * plane + at) << 2));
        g6 = load<f32>(w + (<usize>(2 * plane + at) << 2)); g7 = load<f32>(w + (<usize>(plane + at) << 2)); g8 = load<f32>(w + (<usize>at << 2));
      } else {
        const at = ci * cout + co;
        g0 = load<f32>(w + (<usize>at << 2)); g1 = load<f32>(w + (<usize>(plane + at) << 2)); g2 = load<f32>(w + (<usize>(2 * plane + at) << 2));
        g3 = load<f32>(w + (<usize>(3 * plane + at) << 2)); g4 = load<f32>(w + (<usize>(4 * plane + at) << 2)); g5 = load<f32>(w + (<usize>(5 * plane + at) << 2));
        g6 = load<f32>(w + (<usize>(6 * plane + at) << 2)); g7 = load<f32>(w + (<usize>(7 * plane + at) << 2)); g8 = load<f32>(w + (<usize>(8 * plane + at) << 2));
      }
      // rows of G g (4 x 3)
      const a0 = g0, a1 = g1, a2 = g2;
      const b0: f32 = 0.5 * (g0 + g3 + g6), b1: f32 = 0.5 * (g1 + g4 + g7), b2: f32 = 0.5 * (g2 + g5 + g8);
      const c0: f32 = 0.5 * (g0 - g3 + g6), c1: f32 = 0.5 * (g1 - g4 + g7), c2: f32 = 0.5 * (g2 - g5 + g8);
      const d0 = g6, d1 = g7, d2 = g8;
      const o = u + (<usize>(ci * cout + co) << 2);
      const step = <usize>plane << 2;
      storeRowTimesGt(o, step, 0, a0, a1, a2);
      storeRowTimesGt(o, step, 4, b0, b1, b2);
      storeRowTimesGt(o, step, 8, c0, c1, c2);
      storeRowTimesGt(o, step, 12, d0, d1, d2);
    }
  }
}

// @ts-ignore: decorator
@inline
function storeRowTimesGt(o: usize, step: usize, k: i32, r0: f32, r1: f32, r2: f32): void {
  store<f32>(o + step * <usize>k, r0);
  store<f32>(o + step * <usize>(k + 1), 0.5 * (r0 + r1 + r2));
  store<f32>(o + step * <usize>(k + 2), 0.5 * (r0 - r1 + r2));
  store<f32>(o + step * <usize>(k + 3), r2);
}

/** Bytes of scratch winogradConv and winogradFilterGrad need (one padded image, V, and M or Z). */
export function winogradScratchBytes(oh: i32, ow: i32, cin: i32, cout: i32): i32 {
  const th = (oh + 1) >> 1, tw = (ow + 1) >> 1;
  return ((2 * th + 2) * (2 * tw + 2) * cin + 16 * th * tw * (cin + cout)) << 2;
}

/** V [16, tiles, cin] = Bᵀ d B for every 4x4 tile (stride 2) of the padded image xp [ph, pw, cin]. */
function inputTransform(xp: usize, v: usize, th: i32, tw: i32, pw: i32, cin: i32): void {
  const tiles = th * tw;
  const cb = <usize>cin << 2;
  const row = cb * <usize>pw;
  const kStep = cb * <usize>tiles;
  for (let ty = 0; ty < th; ty++) {
    for (let tx = 0; tx < tw; tx++) {
      const base = xp + row * <usize>(2 * ty) + cb * <usize>(2 * tx);
      const out = v + cb * <usize>(ty * tw + tx);
      for (let c: usize = 0; c < cb; c += 16) {
        const p = base + c;
        // t = Bᵀ d: combine rows
        const d00 = v128.load(p), d01 = v128.load(p + cb), d02 = v128.load(p + 2 * cb), d03 = v128.load(p + 3 * cb);
        const d10 = v128.load(p + row), d11 = v128.load(p + row + cb), d12 = v128.load(p + row + 2 * cb), d13 = v128.load(p + row + 3 * cb);
        const d20 = v128.load(p + 2 * row), d21 = v128.load(p + 2 * row + cb), d22 = v128.load(p + 2 * row + 2 * cb), d23 = v128.load(p + 2 * row + 3 * cb);
        const d30 = v128.load(p + 3 * row), d31 = v128.load(p + 3 * row + cb), d32 = v128.load(p + 3 * row + 2 * cb), d33 = v128.load(p + 3 * row + 3 * cb);
        const o = out + c;
        transformRowB(o, kStep, 0, f32x4.sub(d00, d20), f32x4.sub(d01, d21), f32x4.sub(d02, d22), f32x4.sub(d03, d23));
        transformRowB(o, kStep, 4, f32x4.add(d10, d20), f32x4.add(d11, d21), f32x4.add(d12, d22), f32x4.add(d13, d23));
        transformRowB(o, kStep, 8, f32x4.sub(d20, d10), f32x4.sub(d21, d11), f32x4.sub(d22, d12), f32x4.sub(d23, d13));
        transformRowB(o, kStep, 12, f32x4.sub(d10, d30), f32x4.sub(d11, d31), f32x4.sub(d12, d32), f32x4.sub(d13, d33));
      }
    }
  }
}

// @ts-ignore: decorator
@inline
function transformRowB(o: usize, kStep: usize, k: i32, t0: v128, t1: v128, t2: v128, t3: v128): void {
  v128.store(o + kStep * <usize>k, f32x4.sub(t0, t2));
  v128.store(o + kStep * <usize>(k + 1), f32x4.add(t1, t2));
  v128.store(o + kStep * <usize>(k + 2), f32x4.sub(t2, t1));
  v128.store(o + kStep * <usize>(k + 3), f32x4.sub(t1, t3));
}

/**
 * out [batch, oh, ow, cout] = the convolution of x [batch, h, w, cin] with the filter whose
 * transform is u (winogradFilter), plus bias (if not 0) and then ReLU (if relu).
 */
export function winogradConv(
  x: usize, u: usize, bias: usize, out: usize, scratch: usize,
  batch: i32, h: i32, w: i32, cin: i32, oh: i32, ow: i32, cout: i32, padTop: i32, padLeft: i32, relu: i32,
): void {
  const th = (oh + 1) >> 1, tw = (ow + 1) >> 1;
  const tiles = th * tw;
  const ph = 2 * th + 2, pw = 2 * tw + 2;
  const xp = scratch;
  const v = xp + (<usize>(ph * pw * cin) << 2);
  const m = v + (<usize>(16 * tiles * cin) << 2);
  const cinB = <usize>cin << 2, coutB = <usize>cout << 2;
  for (let image = 0; image < batch; image++) {
    padImage(x, xp, image, h, w, cin, ph, pw, padTop, padLeft);
    inputTransform(xp, v, th, tw, pw, cin);
    for (let k = 0; k < 16; k++) {
      const vk = v + cinB * <usize>(k * tiles);
      const uk = u + coutB * <usize>(k * cin);
      const mk = m + coutB * <usize>(k * tiles);
      for (let co = 0; co < cout; co += 8) {
        let t = 0;
        for (; t + 4 <= tiles; t += 4) gemm4x8(vk + cinB * <usize>t, cinB, 4, uk + (<usize>co << 2), coutB, mk + coutB * <usize>t + (<usize>co << 2), coutB, cin, false);
        for (; t < tiles; t++) gemm1x8(vk + cinB * <usize>t, 4, uk + (<usize>co << 2), coutB, mk + coutB * <usize>t + (<usize>co << 2), cin, false);
      }
    }
    outputTransform(m, out + coutB * <usize>(image * oh * ow), bias, th, tw, oh, ow, cout, relu);
  }
}

/** Y = Aᵀ M A for every tile, into the image's output (rows and columns past oh, ow dropped). */
function outputTransform(m: usize, out: usize, bias: usize, th: i32, tw: i32, oh: i32, ow: i32, cout: i32, relu: i32): void {
  const tiles = th * tw;
  const cb = <usize>cout << 2;
  const kStep = cb * <usize>tiles;
  const zero = f32x4.splat(0);
  for (let ty = 0; ty < th; ty++) {
    for (let tx = 0; tx < tw; tx++) {
      const src = m + cb * <usize>(ty * tw + tx);
      const y0 = 2 * ty, x0 = 2 * tx;
      const dst = out + cb * <usize>(y0 * ow + x0);
      const right = x0 + 1 < ow, below = y0 + 1 < oh;
      for (let c: usize = 0; c < cb; c += 16) {
        const p = src + c;
        const m0 = v128.load(p), m1 = v128.load(p + kStep), m2 = v128.load(p + 2 * kStep), m3 = v128.load(p + 3 * kStep);
        const m4 = v128.load(p + 4 * kStep), m5 = v128.load(p + 5 * kStep), m6 = v128.load(p + 6 * kStep), m7 = v128.load(p + 7 * kStep);
        const m8 = v128.load(p + 8 * kStep), m9 = v128.load(p + 9 * kStep), m10 = v128.load(p + 10 * kStep), m11 = v128.load(p + 11 * kStep);
        const m12 = v128.load(p + 12 * kStep), m13 = v128.load(p + 13 * kStep), m14 = v128.load(p + 14 * kStep), m15 = v128.load(p + 15 * kStep);
        // s = Aᵀ m: rows 0 + 1 + 2 and 1 - 2 - 3
        const s0 = f32x4.add(f32x4.add(m0, m4), m8), s1 = f32x4.add(f32x4.add(m1, m5), m9), s2 = f32x4.add(f32x4.add(m2, m6), m10), s3 = f32x4.add(f32x4.add(m3, m7), m11);
        const r0 = f32x4.sub(f32x4.sub(m4, m8), m12), r1 = f32x4.sub(f32x4.sub(m5, m9), m13), r2 = f32x4.sub(f32x4.sub(m6, m10), m14), r3 = f32x4.sub(f32x4.sub(m7, m11), m15);
        let y00 = f32x4.add(f32x4.add(s0, s1), s2), y01 = f32x4.sub(f32x4.sub(s1, s2), s3);
        let y10 = f32x4.add(f32x4.add(r0, r1), r2), y11 = f32x4.sub(f32x4.sub(r1, r2), r3);
        if (bias) {
          const b = v128.load(bias + c);
          y00 = f32x4.add(y00, b); y01 = f32x4.add(y01, b); y10 = f32x4.add(y10, b); y11 = f32x4.add(y11, b);
        }
        if (relu) {
          y00 = f32x4.max(y00, zero); y01 = f32x4.max(y01, zero); y10 = f32x4.max(y10, zero); y11 = f32x4.max(y11, zero);
        }
        const q = dst + c;
        v128.store(q, y00);
        if (right) v128.store(q + cb, y01);
        if (below) {
          v128.store(q + cb * <usize>ow, y10);
          if (right) v128.store(q + cb * <usize>(ow + 1), y11);
        }
      }
    }
  }
}

/**
 * Adds to du [16, cin, cout] the Winograd-domain filter gradient of images [first, first + count):
 * Σ over tiles of V [16, tiles, cin] ⊙ Z [16, tiles, cout]. winogradFilterGradOut turns du into dW.
 */
export function winogradFilterGrad(
  x: usize, dy: usize, du: usize, scratch: usize,
  first: i32, count: i32, h: i32, w: i32, cin: i32, oh: i32, ow: i32, cout: i32, padTop: i32, padLeft: i32,
): void {
  const th = (oh + 1) >> 1, tw = (ow + 1) >> 1;
  const tiles = th * tw;
  const ph = 2 * th + 2, pw = 2 * tw + 2;
  const xp = scratch;
  const v = xp + (<usize>(ph * pw * cin) << 2);
  const z = v + (<usize>(16 * tiles * cin) << 2);
  const cinB = <usize>cin << 2, coutB = <usize>cout << 2;
  for (let image = first; image < first + count; image++) {
    padImage(x, xp, image, h, w, cin, ph, pw, padTop, padLeft);
    inputTransform(xp, v, th, tw, pw, cin);
    gradientTransform(dy + coutB * <usize>(image * oh * ow), z, th, tw, oh, ow, cout);
    for (let k = 0; k < 16; k++) {
      const vk = v + cinB * <usize>(k * tiles);
      const zk = z + coutB * <usize>(k * tiles);
      const uk = du + coutB * <usize>(k * cin);
      for (let ci = 0; ci < cin; ci += 4) {
        for (let co = 0; co < cout; co += 8) gemm4x8(vk + (<usize>ci << 2), 4, cinB, zk + (<usize>co << 2), coutB, uk + coutB * <usize>ci + (<usize>co << 2), coutB, tiles, true);
      }
    }
  }
}

/** Z = A dY Aᵀ for every 2x2 tile of one image's dy [oh, ow, cout] (zeros past oh, ow). */
function gradientTransform(dy: usize, z: usize, th: i32, tw: i32, oh: i32, ow: i32, cout: i32): void {
  const tiles = th * tw;
  const cb = <usize>cout << 2;
  const kStep = cb * <usize>tiles;
  const zero = f32x4.splat(0);
  for (let ty = 0; ty < th; ty++) {
    for (let tx = 0; tx < tw; tx++) {
      const y0 = 2 * ty, x0 = 2 * tx;
      const src = dy + cb * <usize>(y0 * ow + x0);
      const dst = z + cb * <usize>(ty * tw + tx);
      const right = x0 + 1 < ow, below = y0 + 1 < oh;
      for (let c: usize = 0; c < cb; c += 16) {
        const p = src + c;
        const a = v128.load(p);
        const b = right ? v128.load(p + cb) : zero;
        const e = below ? v128.load(p + cb * <usize>ow) : zero;
        const f = right && below ? v128.load(p + cb * <usize>(ow + 1)) : zero;
        // rows of A dY (4 x 2): (a, b), (a + e, b + f), (a - e, b - f), (-e, -f); then each row times Aᵀ
        const o = dst + c;
        gradientRow(o, kStep, 0, a, b);
        gradientRow(o, kStep, 4, f32x4.add(a, e), f32x4.add(b, f));
        gradientRow(o, kStep, 8, f32x4.sub(a, e), f32x4.sub(b, f));
        gradientRow(o, kStep, 12, f32x4.neg(e), f32x4.neg(f));
      }
    }
  }
}

// @ts-ignore: decorator
@inline
function gradientRow(o: usize, kStep: usize, k: i32, p: v128, q: v128): void {
  v128.store(o + kStep * <usize>k, p);
  v128.store(o + kStep * <usize>(k + 1), f32x4.add(p, q));
  v128.store(o + kStep * <usize>(k + 2), f32x4.sub(p, q));
  v128.store(o + kStep * <usize>(k + 3), f32x4.neg(q));
}

/** dW [3, 3, cin, cout] = Gᵀ dU G for every channel pair of du [16, cin, cout]. */
export function winogradFilterGradOut(du: usize, dw: usize, cin: i32, cout: i32): void {
  const plane = <usize>(cin * cout) << 2;
  const half = f32x4.splat(0.5);
  for (let i: usize = 0; i < plane; i += 16) {
    const p = du + i;
    const u0 = v128.load(p), u1 = v128.load(p + plane), u2 = v128.load(p + 2 * plane), u3 = v128.load(p + 3 * plane);
    const u4 = v128.load(p + 4 * plane), u5 = v128.load(p + 5 * plane), u6 = v128.load(p + 6 * plane), u7 = v128.load(p + 7 * plane);
    const u8 = v128.load(p + 8 * plane), u9 = v128.load(p + 9 * plane), u10 = v128.load(p + 10 * plane), u11 = v128.load(p + 11 * plane);
    const u12 = v128.load(p + 12 * plane), u13 = v128.load(p + 13 * plane), u14 = v128.load(p + 14 * plane), u15 = v128.load(p + 15 * plane);
    // rows of Gᵀ dU (3 x 4): u_0 + (u_1 + u_2)/2, (u_1 - u_2)/2, (u_1 + u_2)/2 + u_3, by rows of four
    const a0 = f32x4.add(u0, f32x4.mul(half, f32x4.add(u4, u8))), a1 = f32x4.add(u1, f32x4.mul(half, f32x4.add(u5, u9)));
    const a2 = f32x4.add(u2, f32x4.mul(half, f32x4.add(u6, u10))), a3 = f32x4.add(u3, f32x4.mul(half, f32x4.add(u7, u11)));
    const b0 = f32x4.mul(half, f32x4.sub(u4, u8)), b1 = f32x4.mul(half, f32x4.sub(u5, u9));
    const b2 = f32x4.mul(half, f32x4.sub(u6, u10)), b3 = f32x4.mul(half, f32x4.sub(u7, u11));
    const c0 = f32x4.add(u12, f32x4.mul(half, f32x4.add(u4, u8))), c1 = f32x4.add(u13, f32x4.mul(half, f32x4.add(u5, u9)));
    const c2 = f32x4.add(u14, f32x4.mul(half, f32x4.add(u6, u10))), c3 = f32x4.add(u15, f32x4.mul(half, f32x4.add(u7, u11)));
    const o = dw + i;
    rowTimesG(o, plane, 0, a0, a1, a2, a3, half);
    rowTimesG(o, plane, 3, b0, b1, b2, b3, half);
    rowTimesG(o, plane, 6, c0, c1, c2, c3, half);
  }
}

// @ts-ignore: decorator
@inline
function rowTimesG(o: usize, plane: usize, k: i32, r0: v128, r1: v128, r2: v128, r3: v128, half: v128): void {
  const mid = f32x4.mul(half, f32x4.add(r1, r2));
  v128.store(o + plane * <usize>k, f32x4.add(r0, mid));
  v128.store(o + plane * <usize>(k + 1), f32x4.mul(half, f32x4.sub(r1, r2)));
  v128.store(o + plane * <usize>(k + 2), f32x4.add(mid, r3));
}

/** B up to this size (bytes) is multiplied in one piece: it stays in the core's L2 cache. */
const SMALL_B_BYTES: usize = 256 << 10;

// ---------------------------------------------------------------------------------------------
// Matrix products by blocks of 4 rows x 8 columns held in registers. A's elements are read one
// at a time (splat), at a + i·aRow + k·aStep bytes for row i and step k; B's rows of 8 at
// b + k·bStep; C's rows at c + i·cRow. `accumulate` adds to C instead of overwriting it.
// ---------------------------------------------------------------------------------------------

// @ts-ignore: decorator
@inline
function gemm4x8(a: usize, aRow: usize, aStep: usize, b: usize, bStep: usize, c: usize, cRow: usize, k: i32, accumulate: bool): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  if (accumulate) {
    c00 = v128.load(c); c01 = v128.load(c, 16); c10 = v128.load(c + cRow); c11 = v128.load(c + cRow, 16);
    c20 = v128.load(c + 2 * cRow); c21 = v128.load(c + 2 * cRow, 16); c30 = v128.load(c + 3 * cRow); c31 = v128.load(c + 3 * cRow, 16);
  }
  let p0 = a, p1 = a + aRow, p2 = a + 2 * aRow, p3 = a + 3 * aRow;
  let q = b;
  for (let i = 0; i < k; i++) {
    const b0 = v128.load(q), b1 = v128.load(q, 16);
    const s0 = v128.load32_splat(p0);
    c00 = f32x4.add(c00, f32x4.mul(s0, b0)); c01 = f32x4.add(c01, f32x4.mul(s0, b1));
    const s1 = v128.load32_splat(p1);
    c10 = f32x4.add(c10, f32x4.mul(s1, b0)); c11 = f32x4.add(c11, f32x4.mul(s1, b1));
    const s2 = v128.load32_splat(p2);
    c20 = f32x4.add(c20, f32x4.mul(s2, b0)); c21 = f32x4.add(c21, f32x4.mul(s2, b1));
    const s3 = v128.load32_splat(p3);
    c30 = f32x4.add(c30, f32x4.mul(s3, b0)); c31 = f32x4.add(c31, f32x4.mul(s3, b1));
    p0 += aStep; p1 += aStep; p2 += aStep; p3 += aStep;
    q += bStep;
  }
  v128.store(c, c00); v128.store(c, c01, 16); v128.store(c + cRow, c10); v128.store(c + cRow, c11, 16);
  v128.store(c + 2 * cRow, c20); v128.store(c + 2 * cRow, c21, 16); v128.store(c + 3 * cRow, c30); v128.store(c + 3 * cRow, c31, 16);
}

function gemm1x8(a: usize, aStep: usize, b: usize, bStep: usize, c: usize, k: i32, accumulate: bool): void {
  let c0 = accumulate ? v128.load(c) : f32x4.splat(0);
  let c1 = accumulate ? v128.load(c, 16) : f32x4.splat(0);
  let p = a, q = b;
  for (let i = 0; i < k; i++) {
    const s = v128.load32_splat(p);
    c0 = f32x4.add(c0, f32x4.mul(s, v128.load(q)));
    c1 = f32x4.add(c1, f32x4.mul(s, v128.load(q, 16)));
    p += aStep;
    q += bStep;
  }
  v128.store(c, c0);
  v128.store(c, c1, 16);
}

/**
 * C [m, n] = A · B (n divisible by 8), A's element (i, k) at a + i·aRow + k·aStep bytes (so A
 * may be stored transposed), B [k, n] row-major. Then + bias (if not 0) and ReLU (if relu).
 * `packed` (if not 0) is scratch for k·8 floats: each 8-column strip of B is first copied there
 * contiguously, so that the products read it sequentially rather than a row stride apart.
 */
export function matMul(a: usize, aRow: usize, aStep: usize, b: usize, c: usize, m: i32, n: i32, k: i32, bias: usize, relu: i32, packed: usize): void {
  const rowB = <usize>n << 2;
  if (rowB * <usize>k <= SMALL_B_BYTES) {
    // B stays in cache: each block of 4 rows of A is read once, for every strip of B in turn.
    let i = 0;
    for (; i + 4 <= m; i += 4) {
      for (let j = 0; j < n; j += 8) gemm4x8(a + aRow * <usize>i, aRow, aStep, b + (<usize>j << 2), rowB, c + rowB * <usize>i + (<usize>j << 2), rowB, k, false);
    }
    for (; i < m; i++) {
      for (let j = 0; j < n; j += 8) gemm1x8(a + aRow * <usize>i, aStep, b + (<usize>j << 2), rowB, c + rowB * <usize>i + (<usize>j << 2), k, false);
    }
  } else {
    matMulByStrips(a, aRow, aStep, b, c, m, n, k, packed);
  }
  finishRows(c, m, n, bias, relu);
}

/** B larger than the cache: strip by strip of 8 columns (packed first if asked), all of A against each. */
function matMulByStrips(a: usize, aRow: usize, aStep: usize, b: usize, c: usize, m: i32, n: i32, k: i32, packed: usize): void {
  const rowB = <usize>n << 2;
  for (let j = 0; j < n; j += 8) {
    let bj = b + (<usize>j << 2);
    let bStep = rowB;
    if (packed) {
      for (let r = 0; r < k; r++) {
        const from = bj + rowB * <usize>r;
        const to = packed + (<usize>r << 5);
        v128.store(to, v128.load(from));
        v128.store(to, v128.load(from, 16), 16);
      }
      bj = packed;
      bStep = 32;
    }
    let i = 0;
    for (; i + 4 <= m; i += 4) gemm4x8(a + aRow * <usize>i, aRow, aStep, bj, bStep, c + rowB * <usize>i + (<usize>j << 2), rowB, k, false);
    for (; i < m; i++) gemm1x8(a + aRow * <usize>i, aStep, bj, bStep, c + rowB * <usize>i + (<usize>j << 2), k, false);
  }
}

/** The rows of C [m, n] plus bias (if not 0), then ReLU (if relu). */
function finishRows(c: usize, m: i32, n: i32, bias: usize, relu: i32): void {
  const rowB = <usize>n << 2;
  if (bias == 0 && !relu) return;
  const zero = f32x4.splat(0);
  for (let i = 0; i < m; i++) {
    const row = c + rowB * <usize>i;
    for (let j: usize = 0; j < rowB; j += 16) {
      let value = v128.load(row + j);
      if (bias) value = f32x4.add(value, v128.load(bias + j));
      if (relu) value = f32x4.max(value, zero);
      v128.store(row + j, value);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Batch norm with its statistics given, in one pass.
// ---------------------------------------------------------------------------------------------

/** out = (x - mean) · factor + offset per channel (the last axis, c divisible by 4); offset may be 0. */
export function batchNormRows(x: usize, mean: usize, factor: usize, offset: usize, out: usize, n: i32, c: i32): void {
  const end = x + (<usize>n << 2);
  const rowBytes = <usize>c << 2;
  for (let row = x, o = out; row < end; row += rowBytes, o += rowBytes) {
    for (let j: usize = 0; j < rowBytes; j += 16) {
      let v = f32x4.mul(f32x4.sub(v128.load(row + j), v128.load(mean + j)), v128.load(factor + j));
      if (offset) v = f32x4.add(v, v128.load(offset + j));
      v128.store(o + j, v);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The gradient of a training batch norm over the last axis (c divisible by 4), in two passes:
// the per-channel sums Σ dy and Σ dy · (x - mean), in blocks of rows as columnSums; then
// dx = k1 · dy + k2 · (x - mean) + k3 with the per-channel factors computed from those sums.
// ---------------------------------------------------------------------------------------------

/** out[0, c) = Σ dy, out[c, 2c) = Σ dy · (x - mean), over the rows of x and dy seen as [rows, c]. */
export function batchNormGradSums(x: usize, dy: usize, mean: usize, out: usize, rows: i32, c: i32): void {
  const rowBytes = <usize>c << 2;
  memory.fill(out, 0, rowBytes << 1);
  for (let r0 = 0; r0 < rows; r0 += BLOCK) {
    const r1 = min(rows, r0 + BLOCK);
    for (let j: usize = 0; j < rowBytes; j += 16) {
      const m = v128.load(mean + j);
      let sumDy = f32x4.splat(0), sumDyX = f32x4.splat(0);
      let offset = rowBytes * <usize>r0 + j;
      for (let r = r0; r < r1; r++, offset += rowBytes) {
        const g = v128.load(dy + offset);
        sumDy = f32x4.add(sumDy, g);
        sumDyX = f32x4.add(sumDyX, f32x4.mul(g, f32x4.sub(v128.load(x + offset), m)));
      }
      v128.store(out + j, f32x4.add(v128.load(out + j), sumDy));
      v128.store(out + rowBytes + j, f32x4.add(v128.load(out + rowBytes + j), sumDyX));
    }
  }
}

/** dx = k[0, c) · dy + k[c, 2c) · (x - mean) + k[2c, 3c), per channel, over n values. */
export function batchNormGradRows(x: usize, dy: usize, mean: usize, k: usize, dx: usize, n: i32, c: i32): void {
  const rowBytes = <usize>c << 2;
  const end = <usize>n << 2;
  for (let row: usize = 0; row < end; row += rowBytes) {
    for (let j: usize = 0; j < rowBytes; j += 16) {
      const centred = f32x4.sub(v128.load(x + row + j), v128.load(mean + j));
      let v = f32x4.mul(v128.load(k + j), v128.load(dy + row + j));
      v = f32x4.add(v, f32x4.mul(v128.load(k + rowBytes + j), centred));
      v128.store(dx + row + j, f32x4.add(v, v128.load(k + (rowBytes << 1) + j)));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// One Adam step for one variable, in one pass, with tfjs's AdamOptimizer's float32 operations
// in its order (so that the result is the same to the bit):
//   m' = m·β1 + g·(1-β1),  v' = v·β2 + g²·(1-β2),  w' = (m'/c1) / (√(v'/c2) + ε) · (-lr) + w
// with c1 = 1 - β1^t and c2 = 1 - β2^t.
// ---------------------------------------------------------------------------------------------

export function adamUpdate(
  w: usize, m: usize, v: usize, g: usize, wOut: usize, mOut: usize, vOut: usize, n: i32,
  beta1: f32, oneMinusBeta1: f32, beta2: f32, oneMinusBeta2: f32, c1: f32, c2: f32, epsilon: f32, negLr: f32,
): void {
  const b1 = f32x4.splat(beta1), a1 = f32x4.splat(oneMinusBeta1);
  const b2 = f32x4.splat(beta2), a2 = f32x4.splat(oneMinusBeta2);
  const d1 = f32x4.splat(c1), d2 = f32x4.splat(c2), eps = f32x4.splat(epsilon), step = f32x4.splat(negLr);
  const simdEnd = <usize>(n & ~3) << 2;
  let i: usize = 0;
  for (; i < simdEnd; i += 16) {
    const gi = v128.load(g + i);
    const mi = f32x4.add(f32x4.mul(v128.load(m + i), b1), f32x4.mul(gi, a1));
    const vi = f32x4.add(f32x4.mul(v128.load(v + i), b2), f32x4.mul(f32x4.mul(gi, gi), a2));
    const update = f32x4.div(f32x4.div(mi, d1), f32x4.add(f32x4.sqrt(f32x4.div(vi, d2)), eps));
    v128.store(mOut + i, mi);
    v128.store(vOut + i, vi);
    v128.store(wOut + i, f32x4.add(f32x4.mul(update, step), v128.load(w + i)));
  }
  const end = <usize>n << 2;
  for (; i < end; i += 4) {
    const gi = load<f32>(g + i);
    const mi = load<f32>(m + i) * beta1 + gi * oneMinusBeta1;
    const vi = load<f32>(v + i) * beta2 + gi * gi * oneMinusBeta2;
    store<f32>(mOut + i, mi);
    store<f32>(vOut + i, vi);
    store<f32>(wOut + i, ((mi / c1) / (sqrt<f32>(vi / c2) + epsilon)) * negLr + load<f32>(w + i));
  }
}

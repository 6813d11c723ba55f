/**
 * Pixel-array operations behind preprocessing: pure TypeScript (no Node or DOM imports) so the
 * browser bundle gets exactly the code the CLI and the server run. Images here are row-major
 * Float32Array planes of one channel, 0..255.
 */

export interface Plane {
  data: Float32Array;
  width: number;
  height: number;
}

// ---------------------------------------------------------------------------- scratch

/**
 * Temporaries reused from call to call for pictures up to this many pixels (a 28x28 digit, a
 * page canvas): allocating and collecting a fresh typed array of a 28x28 plane is a visible
 * cost beside a small picture's work, and the pipeline made about fifty per picture.
 * Larger pictures allocate as before (their per-pixel work dwarfs it) and keep nothing alive.
 */
export const SCRATCH_PIXELS = 128 * 128;

let bytesScratch = new Uint8Array(0);
let intsScratch = new Int32Array(0);

/** A temporary of `n` bytes, contents undefined; valid until the next call. Reused for small `n`. */
function scratchBytes(n: number): Uint8Array {
  if (n > SCRATCH_PIXELS) return new Uint8Array(n);
  if (bytesScratch.length < n) bytesScratch = new Uint8Array(SCRATCH_PIXELS);
  return bytesScratch.subarray(0, n);
}

function scratchInts(n: number): Int32Array {
  if (n > SCRATCH_PIXELS) return new Int32Array(n);
  if (intsScratch.length < n) intsScratch = new Int32Array(SCRATCH_PIXELS);
  return intsScratch.subarray(0, n);
}

/** Rec. 601 luma weights, the ones PIL and libvips use for RGB → grayscale. */
export function luma(r: number, g: number, b: number): number {
  return 0.299 * r + 0.587 * g + 0.114 * b;
}

// ---------------------------------------------------------------------------- resampling

interface Taps {
  start: Int32Array;
  count: Int32Array;
  weights: Float32Array;
  stride: number;
}

/**
 * Weights of a 1-D resampling from `from` to `to` samples. Shrinking averages the exact area
 * each output sample covers (what the MNIST builders' anti-aliased scaling did); enlarging
 * interpolates linearly, since area averaging would give blocky pixels.
 */
function resampleTaps(from: number, to: number): Taps {
  const ratio = from / to;
  const stride = Math.ceil(ratio) + 2;
  const start = new Int32Array(to);
  const count = new Int32Array(to);
  const weights = new Float32Array(to * stride);
  for (let o = 0; o < to; o++) {
    if (ratio >= 1) {
      const lo = o * ratio;
      const hi = lo + ratio;
      const first = Math.floor(lo);
      const last = Math.min(from - 1, Math.ceil(hi) - 1);
      start[o] = first;
      count[o] = last - first + 1;
      for (let i = first; i <= last; i++) {
        const overlap = Math.min(hi, i + 1) - Math.max(lo, i);
        weights[o * stride + (i - first)] = overlap / ratio;
      }
    } else {
      const centre = Math.min(from - 1, Math.max(0, (o + 0.5) * ratio - 0.5));
      const first = Math.floor(centre);
      const frac = centre - first;
      start[o] = first;
      count[o] = first + 1 < from ? 2 : 1;
      weights[o * stride] = count[o] === 2 ? 1 - frac : 1;
      if (count[o] === 2) weights[o * stride + 1] = frac;
    }
  }
  return { start, count, weights, stride };
}

/** Resize a plane to `width` x `height` (separable: rows, then columns). */
export function resample(src: Plane, width: number, height: number): Plane {
  if (width === src.width && height === src.height) return { data: src.data.slice(), width, height };
  const tx = resampleTaps(src.width, width);
  const ty = resampleTaps(src.height, height);
  const mid = new Float32Array(width * src.height);
  for (let y = 0; y < src.height; y++) {
    const row = y * src.width;
    for (let x = 0; x < width; x++) {
      let sum = 0;
      const base = x * tx.stride;
      for (let k = 0; k < tx.count[x]; k++) sum += src.data[row + tx.start[x] + k] * tx.weights[base + k];
      mid[y * width + x] = sum;
    }
  }
  const out = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    const base = y * ty.stride;
    for (let k = 0; k < ty.count[y]; k++) {
      const w = ty.weights[base + k];
      const row = (ty.start[y] + k) * width;
      for (let x = 0; x < width; x++) out[y * width + x] += mid[row + x] * w;
    }
  }
  return { data: out, width, height };
}

// ---------------------------------------------------------------------------- statistics

/** The histogram's bins, reused: otsuThreshold is called several times per picture. */
const histogramBins = new Float64Array(256);

/** A 256-bin histogram of values clamped to 0..255, over `indices` or the whole array (valid until the next call). */
function histogram(values: Float32Array, take?: (i: number) => boolean): { bins: Float64Array; total: number } {
  const bins = histogramBins.fill(0);
  let total = 0;
  for (let i = 0; i < values.length; i++) {
    if (take && !take(i)) continue;
    const v = values[i];
    bins[v <= 0 ? 0 : v >= 255 ? 255 : Math.floor(v)]++;
    total++;
  }
  return { bins, total };
}

/** Otsu's threshold: the level that best separates the values into two classes. */
export function otsuThreshold(values: Float32Array, take?: (i: number) => boolean): number {
  const { bins, total } = histogram(values, take);
  if (total === 0) return 0;
  let sumAll = 0;
  for (let i = 0; i < 256; i++) sumAll += i * bins[i];
  let weightBelow = 0;
  let sumBelow = 0;
  let best = 0;
  let bestVariance = -1;
  for (let t = 0; t < 256; t++) {
    weightBelow += bins[t];
    if (weightBelow === 0) continue;
    const weightAbove = total - weightBelow;
    if (weightAbove === 0) break;
    sumBelow += t * bins[t];
    const meanBelow = sumBelow / weightBelow;
    const meanAbove = (sumAll - sumBelow) / weightAbove;
    const variance = weightBelow * weightAbove * (meanBelow - meanAbove) ** 2;
    if (variance > bestVariance) {
      bestVariance = variance;
      best = t;
    }
  }
  return best + 0.5;
}

/**
 * Exact quantile (0..1) of a list of numbers, linear between the two nearest order statistics;
 * reorders `values` (the same numbers stay in it). The two order statistics are found by
 * selection (Hoare's FIND, O(n)) where a sorted copy was taken before (O(n log n) and an
 * allocation): the same two values go into the same formula, so the answer is the same bits
 * (a zero comes out +0 either way: `lo + (hi - lo)·f` never gives -0). Selecting the median of
 * a 28x28 digit's ~700 paper samples is several times faster than sorting them.
 * A NaN has no place in an order by `<`: then the values are sorted as before.
 */
export function quantileInPlace(values: Float64Array, q: number): number {
  const n = values.length;
  if (n === 0) return 0;
  const pos = Math.min(n - 1, Math.max(0, q * (n - 1)));
  const lo = Math.floor(pos);
  const hi = Math.min(n - 1, lo + 1);
  let low: number;
  let high: number;
  if (hasNaN(values)) {
    values.sort();
    low = values[lo];
    high = values[hi];
  } else {
    low = selectInPlace(values, lo);
    // Everything after index lo is >= values[lo]: the next order statistic is their minimum.
    high = low;
    if (hi > lo) {
      high = values[hi];
      for (let i = hi + 1; i < n; i++) if (values[i] < high) high = values[i];
    }
  }
  return low + (high - low) * (pos - lo);
}

function hasNaN(values: Float64Array): boolean {
  for (let i = 0; i < values.length; i++) if (values[i] !== values[i]) return true;
  return false;
}

/**
 * Reorder `a` so that a[k] is its k-th smallest value, everything before it <= a[k] and
 * everything after >= a[k] (Hoare's FIND, median-of-three pivot; runs of equal values, such as
 * clean black paper, split evenly, so they cost O(n) too). No NaN in `a`.
 */
function selectInPlace(a: Float64Array, k: number): number {
  let left = 0;
  let right = a.length - 1;
  while (left < right) {
    const x = medianOfThree(a[left], a[(left + right) >> 1], a[right]);
    let i = left;
    let j = right;
    do {
      while (a[i] < x) i++;
      while (x < a[j]) j--;
      if (i <= j) {
        const t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    } while (i <= j);
    if (j < k) left = i;
    if (k < i) right = j;
  }
  return a[k];
}

function medianOfThree(a: number, b: number, c: number): number {
  return a < b ? (b < c ? b : a < c ? c : a) : a < c ? a : b < c ? c : b;
}

/** Every `step`-th index in both directions, so statistics of a large photo stay cheap. */
export function sampleStep(width: number, height: number, maxSamples = 40000): number {
  return Math.max(1, Math.floor(Math.sqrt((width * height) / maxSamples)));
}

// ---------------------------------------------------------------------------- morphology

/**
 * Binary dilation by a square of side 2r+1, with running sums (cost independent of r), into
 * `out` (a new array unless given; not `mask` itself).
 */
export function dilate(
  mask: Uint8Array,
  width: number,
  height: number,
  r: number,
  out: Uint8Array = new Uint8Array(mask.length),
): Uint8Array {
  if (r <= 0) {
    out.set(mask);
    return out;
  }
  const rows = scratchBytes(mask.length);
  dilateRows(mask, width, height, r, rows);
  dilateColumns(rows, width, height, r, out);
  return out;
}

// Two functions, not one: V8 compiles the two loop nests apart, and the whole dilation of a
// 28x28 mask ran about a quarter faster as two functions than as one.
function dilateRows(mask: Uint8Array, width: number, height: number, r: number, rows: Uint8Array): void {
  const head = Math.min(r, width);
  for (let y = 0; y < height; y++) {
    let count = 0;
    const row = y * width;
    for (let x = 0; x < head; x++) count += mask[row + x];
    for (let x = 0; x < width; x++) {
      if (x + r < width) count += mask[row + x + r];
      if (x - r - 1 >= 0) count -= mask[row + x - r - 1];
      rows[row + x] = count > 0 ? 1 : 0;
    }
  }
}

function dilateColumns(rows: Uint8Array, width: number, height: number, r: number, out: Uint8Array): void {
  const head = Math.min(r, height);
  for (let x = 0; x < width; x++) {
    let count = 0;
    for (let y = 0; y < head; y++) count += rows[y * width + x];
    for (let y = 0; y < height; y++) {
      if (y + r < height) count += rows[(y + r) * width + x];
      if (y - r - 1 >= 0) count -= rows[(y - r - 1) * width + x];
      out[y * width + x] = count > 0 ? 1 : 0;
    }
  }
}

// ---------------------------------------------------------------------------- background

/**
 * Least-squares fit of a quadratic surface a + bx + cy + dx² + exy + fy² to the pixels where
 * `inkMask` is 0 (x, y scaled to -1..1): the uneven lighting of a photographed page.
 *
 * The normal equations' 21 distinct sums and 6 right-hand sides are accumulated in local
 * variables, each the same products added in the same order as a loop over a 6x6 matrix would:
 * the same bits, without 27 typed-array loads and stores and a callback per sample: several
 * times faster a call on a 28x28 digit, where the old fit was the largest single cost of a
 * 28x28 PNG's preprocessing.
 */
export function fitQuadraticSurface(plane: Plane, inkMask: Uint8Array, out?: Float32Array): Float32Array {
  const { width, height, data } = plane;
  // A smooth surface of six coefficients is well determined by a few thousand samples.
  const step = sampleStep(width, height, 6000);
  const sx = width > 1 ? 2 / (width - 1) : 0;
  const sy = height > 1 ? 2 / (height - 1) : 0;
  // s<r><c>: Σ basis[r]·basis[c] with basis = [1, u, v, u², uv, v²]; b<r>: Σ basis[r]·pixel.
  let s00 = 0,
    s01 = 0,
    s02 = 0,
    s03 = 0,
    s04 = 0,
    s05 = 0;
  let s11 = 0,
    s12 = 0,
    s13 = 0,
    s14 = 0,
    s15 = 0;
  let s22 = 0,
    s23 = 0,
    s24 = 0,
    s25 = 0;
  let s33 = 0,
    s34 = 0,
    s35 = 0;
  let s44 = 0,
    s45 = 0;
  let s55 = 0;
  let b0 = 0,
    b1 = 0,
    b2 = 0,
    b3 = 0,
    b4 = 0,
    b5 = 0;
  let n = 0;
  for (let y = 0; y < height; y += step) {
    const v = y * sy - 1;
    const vv = v * v;
    for (let x = 0; x < width; x += step) {
      const i = y * width + x;
      if (inkMask[i] !== 0) continue;
      const u = x * sx - 1;
      const uu = u * u;
      const uv = u * v;
      const d = data[i];
      // 1·w is w exactly: the first row's products need no multiplication.
      s00 += 1;
      s01 += u;
      s02 += v;
      s03 += uu;
      s04 += uv;
      s05 += vv;
      s11 += u * u;
      s12 += u * v;
      s13 += u * uu;
      s14 += u * uv;
      s15 += u * vv;
      s22 += v * v;
      s23 += v * uu;
      s24 += v * uv;
      s25 += v * vv;
      s33 += uu * uu;
      s34 += uu * uv;
      s35 += uu * vv;
      s44 += uv * uv;
      s45 += uv * vv;
      s55 += vv * vv;
      b0 += d;
      b1 += u * d;
      b2 += v * d;
      b3 += uu * d;
      b4 += uv * d;
      b5 += vv * d;
      n++;
    }
  }
  const surface = out ? out.fill(0) : new Float32Array(width * height);
  // Too few background samples for six coefficients: no lighting correction at all.
  if (n < 24) return surface;
  const ata = normalMatrix;
  ata.set([
    s00,
    s01,
    s02,
    s03,
    s04,
    s05,
    s01,
    s11,
    s12,
    s13,
    s14,
    s15,
    s02,
    s12,
    s22,
    s23,
    s24,
    s25,
    s03,
    s13,
    s23,
    s33,
    s34,
    s35,
    s04,
    s14,
    s24,
    s34,
    s44,
    s45,
    s05,
    s15,
    s25,
    s35,
    s45,
    s55,
  ]);
  normalRight.set([b0, b1, b2, b3, b4, b5]);
  const coef = solveLinear(ata, normalRight, 6);
  if (!coef) return surface;
  for (let y = 0; y < height; y++) {
    const v = y * sy - 1;
    // Along a row the surface is a quadratic in u: a + b·u + c·u².
    const a = coef[0] + coef[2] * v + coef[5] * v * v;
    const b = coef[1] + coef[4] * v;
    const c = coef[3];
    const row = y * width;
    for (let x = 0; x < width; x++) {
      const u = x * sx - 1;
      surface[row + x] = a + (b + c * u) * u;
    }
  }
  return surface;
}

/** The surface fit's normal equations, reused (solveLinear works on them in place). */
const normalMatrix = new Float64Array(36);
const normalRight = new Float64Array(6);

/** Gaussian elimination with partial pivoting, in place (`a` and `b` are overwritten; `b` becomes the answer); null when the system is singular. */
function solveLinear(a: Float64Array, b: Float64Array, n: number): Float64Array | null {
  const m = a;
  const x = b;
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(m[r * n + col]) > Math.abs(m[pivot * n + col])) pivot = r;
    if (Math.abs(m[pivot * n + col]) < 1e-9) return null;
    if (pivot !== col) {
      for (let c = 0; c < n; c++) [m[col * n + c], m[pivot * n + c]] = [m[pivot * n + c], m[col * n + c]];
      [x[col], x[pivot]] = [x[pivot], x[col]];
    }
    for (let r = col + 1; r < n; r++) {
      const f = m[r * n + col] / m[col * n + col];
      for (let c = col; c < n; c++) m[r * n + c] -= f * m[col * n + c];
      x[r] -= f * x[col];
    }
  }
  for (let r = n - 1; r >= 0; r--) {
    let s = x[r];
    for (let c = r + 1; c < n; c++) s -= m[r * n + c] * x[c];
    x[r] = s / m[r * n + r];
  }
  return x;
}

// ---------------------------------------------------------------------------- components

export interface Component {
  label: number;
  area: number;
  /** Sum of pixel values: how much ink. */
  mass: number;
  minX: number;
  maxX: number;
  minY: number;
  maxY: number;
  /** Mass-weighted centre. */
  cx: number;
  cy: number;
}

export function boxWidth(c: { minX: number; maxX: number }): number {
  return c.maxX - c.minX + 1;
}

export function boxHeight(c: { minY: number; maxY: number }): number {
  return c.maxY - c.minY + 1;
}

/**
 * 8-connected components of the pixels above `threshold`. `labels` holds 1-based component
 * labels (0 = background), so a caller can mask one component out of the plane.
 */
export function connectedComponents(plane: Plane, threshold: number): { labels: Int32Array; components: Component[] } {
  const { width, height, data } = plane;
  const labels = new Int32Array(width * height);
  const components: Component[] = [];
  const stack = scratchInts(width * height);
  for (let seed = 0; seed < data.length; seed++) {
    if (labels[seed] !== 0 || data[seed] <= threshold) continue;
    const label = components.length + 1;
    let area = 0;
    let mass = 0;
    let cx = 0;
    let cy = 0;
    let minX = width;
    let maxX = -1;
    let minY = height;
    let maxY = -1;
    let top = 0;
    stack[top++] = seed;
    labels[seed] = label;
    // Sums in locals (a double field of an object is a boxed number in V8); the same order of additions.
    while (top > 0) {
      const i = stack[--top];
      // Integer row and column (a float division and a remainder cost more than the fill itself).
      const y = (i / width) | 0;
      const x = i - y * width;
      const v = data[i];
      area++;
      mass += v;
      cx += v * x;
      cy += v * y;
      if (x < minX) minX = x;
      if (x > maxX) maxX = x;
      if (y < minY) minY = y;
      if (y > maxY) maxY = y;
      // The 8 neighbours inside the picture, row by row (this order of pushes is the order of the sums above).
      const x0 = x > 0 ? x - 1 : 0;
      const x1 = x < width - 1 ? x + 1 : x;
      const y1 = y < height - 1 ? y + 1 : y;
      for (let ny = y > 0 ? y - 1 : 0; ny <= y1; ny++) {
        for (let j = ny * width + x0, end = ny * width + x1; j <= end; j++) {
          if (labels[j] === 0 && data[j] > threshold) {
            labels[j] = label;
            stack[top++] = j;
          }
        }
      }
    }
    const c: Component = { label, area, mass, minX, maxX, minY, maxY, cx: cx / (mass || 1), cy: cy / (mass || 1) };
    components.push(c);
  }
  return { labels, components };
}

/** Mass-weighted centre of a plane; the geometric centre when it is empty. */
export function centreOfMass(plane: Plane): { x: number; y: number; mass: number } {
  let mass = 0;
  let mx = 0;
  let my = 0;
  for (let y = 0; y < plane.height; y++) {
    for (let x = 0; x < plane.width; x++) {
      const v = plane.data[y * plane.width + x];
      mass += v;
      mx += v * x;
      my += v * y;
    }
  }
  if (mass === 0) return { x: (plane.width - 1) / 2, y: (plane.height - 1) / 2, mass };
  return { x: mx / mass, y: my / mass, mass };
}

/** Round and clamp to bytes. */
export function toBytes(data: Float32Array): Uint8Array {
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = Math.round(data[i]);
    out[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
  return out;
}

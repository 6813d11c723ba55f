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

/** A 256-bin histogram of values clamped to 0..255, over `indices` or the whole array. */
function histogram(values: Float32Array, take?: (i: number) => boolean): { bins: Float64Array; total: number } {
  const bins = new Float64Array(256);
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

/** Exact quantile (0..1) of a list of numbers; sorts a copy. */
export function quantile(values: ArrayLike<number>, q: number): number {
  if (values.length === 0) return 0;
  const sorted = Float64Array.from(values as ArrayLike<number>).sort();
  const pos = Math.min(sorted.length - 1, Math.max(0, q * (sorted.length - 1)));
  const lo = Math.floor(pos);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** Every `step`-th index in both directions, so statistics of a large photo stay cheap. */
export function sampleStep(width: number, height: number, maxSamples = 40000): number {
  return Math.max(1, Math.floor(Math.sqrt((width * height) / maxSamples)));
}

// ---------------------------------------------------------------------------- morphology

/** Binary dilation by a square of side 2r+1, with running sums (cost independent of r). */
export function dilate(mask: Uint8Array, width: number, height: number, r: number): Uint8Array {
  if (r <= 0) return mask.slice();
  const rows = new Uint8Array(mask.length);
  for (let y = 0; y < height; y++) {
    let count = 0;
    const row = y * width;
    for (let x = 0; x < Math.min(r, width); x++) count += mask[row + x];
    for (let x = 0; x < width; x++) {
      if (x + r < width) count += mask[row + x + r];
      if (x - r - 1 >= 0) count -= mask[row + x - r - 1];
      rows[row + x] = count > 0 ? 1 : 0;
    }
  }
  const out = new Uint8Array(mask.length);
  for (let x = 0; x < width; x++) {
    let count = 0;
    for (let y = 0; y < Math.min(r, height); y++) count += rows[y * width + x];
    for (let y = 0; y < height; y++) {
      if (y + r < height) count += rows[(y + r) * width + x];
      if (y - r - 1 >= 0) count -= rows[(y - r - 1) * width + x];
      out[y * width + x] = count > 0 ? 1 : 0;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------- background

/**
 * Least-squares fit of a quadratic surface a + bx + cy + dx² + exy + fy² to the pixels that
 * `isBackground` accepts (x, y scaled to -1..1): the uneven lighting of a photographed page.
 */
export function fitQuadraticSurface(plane: Plane, isBackground: (i: number) => boolean): Float32Array {
  const { width, height, data } = plane;
  // A smooth surface of six coefficients is well determined by a few thousand samples.
  const step = sampleStep(width, height, 6000);
  const ata = new Float64Array(36);
  const atb = new Float64Array(6);
  const basis = new Float64Array(6);
  const sx = width > 1 ? 2 / (width - 1) : 0;
  const sy = height > 1 ? 2 / (height - 1) : 0;
  let n = 0;
  for (let y = 0; y < height; y += step) {
    const v = y * sy - 1;
    for (let x = 0; x < width; x += step) {
      const i = y * width + x;
      if (!isBackground(i)) continue;
      const u = x * sx - 1;
      basis[0] = 1; basis[1] = u; basis[2] = v; basis[3] = u * u; basis[4] = u * v; basis[5] = v * v;
      for (let r = 0; r < 6; r++) {
        atb[r] += basis[r] * data[i];
        for (let c = r; c < 6; c++) ata[r * 6 + c] += basis[r] * basis[c];
      }
      n++;
    }
  }
  for (let r = 1; r < 6; r++) for (let c = 0; c < r; c++) ata[r * 6 + c] = ata[c * 6 + r];
  const surface = new Float32Array(width * height);
  // Too few background samples for six coefficients: no lighting correction at all.
  const coef = n >= 24 ? solveLinear(ata, atb, 6) : null;
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

/** Gaussian elimination with partial pivoting; null when the system is singular. */
function solveLinear(a: Float64Array, b: Float64Array, n: number): Float64Array | null {
  const m = Float64Array.from(a);
  const x = Float64Array.from(b);
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
  const stack = new Int32Array(width * height);
  for (let seed = 0; seed < data.length; seed++) {
    if (labels[seed] !== 0 || data[seed] <= threshold) continue;
    const label = components.length + 1;
    const c: Component = { label, area: 0, mass: 0, minX: width, maxX: -1, minY: height, maxY: -1, cx: 0, cy: 0 };
    let top = 0;
    stack[top++] = seed;
    labels[seed] = label;
    while (top > 0) {
      const i = stack[--top];
      const x = i % width;
      const y = (i - x) / width;
      const v = data[i];
      c.area++;
      c.mass += v;
      c.cx += v * x;
      c.cy += v * y;
      if (x < c.minX) c.minX = x;
      if (x > c.maxX) c.maxX = x;
      if (y < c.minY) c.minY = y;
      if (y > c.maxY) c.maxY = y;
      for (let dy = -1; dy <= 1; dy++) {
        const ny = y + dy;
        if (ny < 0 || ny >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          if (nx < 0 || nx >= width) continue;
          const j = ny * width + nx;
          if (labels[j] === 0 && data[j] > threshold) {
            labels[j] = label;
            stack[top++] = j;
          }
        }
      }
    }
    c.cx /= c.mass || 1;
    c.cy /= c.mass || 1;
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

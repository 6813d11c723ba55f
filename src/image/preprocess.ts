/**
 * The one preprocessing of the project, shared by training, the CLI, the server and the
 * browser page. Pure TypeScript over pixel arrays (no Node or DOM imports), so that the same
 * code runs everywhere. Decoding an image file is the only platform-specific step.
 *
 * Any picture of a digit → the 28x28 white-on-black, size-normalised, mass-centred image that
 * MNIST's builders made: grayscale (alpha composited) → white ink on black → lighting and noise
 * removed → cropped to the ink → fitted to 20x20 by area averaging → centre of mass at (14,14).
 */
import {
  boxHeight,
  boxWidth,
  centreOfMass,
  connectedComponents,
  dilate,
  fitQuadraticSurface,
  luma,
  otsuThreshold,
  quantileInPlace,
  resample,
  sampleStep,
  SCRATCH_PIXELS,
  toBytes,
  type Component,
  type Plane,
} from './pixel-ops.js';
import { PREPROCESS_SPEC, scalePixels, type PreprocessSpec } from '../data/model-input.js';

/** Decoded pixels, interleaved channels: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA. */
export interface RawImage {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
}

export type NotADigitReason = 'blank' | 'no dominant stroke' | 'too small';

export interface Stage {
  name: string;
  width: number;
  height: number;
  pixels: Uint8Array;
}

export interface Preprocessed {
  /** spec.size² values at the model's scale. */
  input: Float32Array;
  /** The spec.size² bytes (0..255) the model sees. */
  pixels: Uint8Array;
  reason?: NotADigitReason;
  stages?: Stage[];
}

export interface PreprocessOptions {
  spec?: PreprocessSpec;
  /** Return each stage's picture (for `predict --explain`). */
  keepStages?: boolean;
}

/**
 * Tuning constants. The names say what each guards against; values were checked on MNIST test
 * digits put through the distortions of test/predict (photo-like paper, JPEG, inversion, scale).
 */
export const TUNING = {
  /** Larger pictures are shrunk (area average) to this side first: a phone photo at full size costs far more. */
  maxWorkingSide: 800,
  /** Ink less than this many gray levels above the paper is no ink. */
  minContrast: 24,
  /** ...nor is ink that stands less than this many noise deviations above the paper. */
  minContrastOverNoise: 6,
  /** Background pixels are those more than this share of the picture's side away from ink. */
  inkHaloShare: 0.005,
  /** A component whose box side is below max(3 px, this share of the picture's side) is a speck. */
  speckShare: 0.02,
  /** After the stretch, pixels below this share of white are background: JPEG ringing, dust, shadows. */
  faintShare: 0.1,
  /** Components with less than this share of the largest one's ink are not part of the digit. */
  minPartShare: 0.08,
  /** Below this share of all (non-speck) ink, the largest component does not make a digit. */
  minDominantShare: 0.4,
  /**
   * Ink whose box's longer side is below this share of the picture's longer side is too small to
   * be a digit: a dot, a tick, a speck of dirt, which scaling to the 20x20 box would blow up into
   * a blob the model reads as a 0. The smallest digits of our sets (MNIST digits 56 px high
   * pasted on a 480x320 sheet, test/helpers/digit-pictures.ts) span 8.3% of the sheet; 3% leaves
   * room for a digit written small on a photographed page. A model trained with non-digits
   * refuses larger dots itself.
   */
  minInkShare: 0.03,
} as const;

/** Images already in MNIST form (IDX, Kaggle CSV, a `{pixels}` body): only the last step. */
export function preprocessMnistPixels(pixels: Uint8Array, spec: PreprocessSpec = PREPROCESS_SPEC): Preprocessed {
  const expected = spec.size * spec.size;
  if (pixels.length !== expected) {
    throw new RangeError(`expected ${expected} pixels (${spec.size}x${spec.size}), got ${pixels.length}`);
  }
  const result: Preprocessed = {
    input: scalePixels(pixels, new Float32Array(expected), spec),
    pixels: Uint8Array.from(pixels),
  };
  // Nothing stands out from the black background: an empty canvas, not a digit.
  let brightest = 0;
  for (const p of pixels) brightest = Math.max(brightest, p);
  if (brightest < TUNING.minContrast) result.reason = 'blank';
  return result;
}

/** Any picture of one digit → what the model sees. Not a digit → `reason` (input still filled). */
export function preprocessImage(image: RawImage, options: PreprocessOptions = {}): Preprocessed {
  const spec = options.spec ?? PREPROCESS_SPEC;
  const stages: Stage[] | undefined = options.keepStages ? [] : undefined;
  const ink = extractInk(image, stages, spec);
  if (ink.blank) return finishBlank(spec, stages);
  return placeInk(ink.plane, spec, stages);
}

export interface InkPlane {
  /** White ink on black, 0..255, lighting and noise removed. */
  plane: Plane;
  blank: boolean;
}

/**
 * The steps every reading shares (single digit and `--number`): grayscale → white on black →
 * cleaned. `blank` when nothing stands out from the paper.
 */
export function extractInk(image: RawImage, stages?: Stage[], spec: PreprocessSpec = PREPROCESS_SPEC): InkPlane {
  const gray = limitWorkingSize(toGrayscale(image), TUNING.maxWorkingSide);
  stages?.push(stageOf('grayscale', gray));
  const lightPaper = hasLightBackground(gray);
  const inverted = lightPaper ? invert(gray) : gray;
  stages?.push(stageOf('inverted', inverted));
  // A picture already at the model's size may be an MNIST digit: its faint edges are data.
  const mnistSized = image.width === spec.size && image.height === spec.size;
  const cleaned = cleanInk(inverted, { lightPaper, keepFaint: mnistSized });
  stages?.push(stageOf('cleaned', cleaned.plane));
  return cleaned;
}

// ---------------------------------------------------------------------------- grayscale

function checkRawImage(image: RawImage): void {
  const { width, height, channels, data } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`image size ${width}x${height} is not a positive whole number of pixels`);
  }
  if (![1, 2, 3, 4].includes(channels)) throw new RangeError(`${channels} channels: expected 1, 2, 3 or 4`);
  if (data.length !== width * height * channels) {
    throw new RangeError(
      `image data has ${data.length} bytes, ${width}x${height}x${channels} needs ${width * height * channels}`,
    );
  }
}

/**
 * Luma, with alpha composited onto a background that contrasts with the ink: transparent
 * pixels must not turn black (black ink would vanish) nor white (white ink would).
 */
export function toGrayscale(image: RawImage): Plane {
  checkRawImage(image);
  const { width, height, channels, data } = image;
  const n = width * height;
  const colour = channels >= 3;
  const alphaAt = channels === 2 || channels === 4 ? channels - 1 : -1;
  const gray = new Float32Array(n);
  let alphaSum = 0;
  let inkSum = 0;
  let transparent = 0;
  for (let i = 0; i < n; i++) {
    const p = i * channels;
    gray[i] = colour ? luma(data[p], data[p + 1], data[p + 2]) : data[p];
    if (alphaAt >= 0) {
      const a = data[p + alphaAt] / 255;
      alphaSum += a;
      inkSum += a * gray[i];
      if (a < 1) transparent++;
    }
  }
  if (transparent > 0) {
    // The opaque part of a cut-out is the ink; the background is whatever contrasts with it.
    const inkLevel = alphaSum > 0 ? inkSum / alphaSum : 0;
    const background = inkLevel < 128 ? 255 : 0;
    for (let i = 0; i < n; i++) {
      const a = data[i * channels + alphaAt] / 255;
      gray[i] = a * gray[i] + (1 - a) * background;
    }
  }
  return { data: gray, width, height };
}

function limitWorkingSize(plane: Plane, maxSide: number): Plane {
  const side = Math.max(plane.width, plane.height);
  if (side <= maxSide) return plane;
  const s = maxSide / side;
  return resample(plane, Math.max(1, Math.round(plane.width * s)), Math.max(1, Math.round(plane.height * s)));
}

// ---------------------------------------------------------------------------- polarity

/** Paper, a white canvas: the picture's border is mostly light. */
export function hasLightBackground(plane: Plane): boolean {
  const { width, height, data } = plane;
  const band = Math.max(1, Math.round(0.02 * Math.min(width, height)));
  const step = Math.max(1, Math.floor((2 * (width + height) * band) / 20000));
  const borderPixels = width * height - Math.max(0, width - 2 * band) * Math.max(0, height - 2 * band);
  const border = new Float64Array(Math.ceil(borderPixels / step));
  let k = 0;
  let taken = 0;
  for (let y = 0; y < height; y++) {
    const edgeRow = y < band || y >= height - band;
    for (let x = 0; x < width; x++) {
      if (!edgeRow && x >= band && x < width - band) {
        x = width - band - 1;
        continue;
      }
      if (k++ % step === 0) border[taken++] = data[y * width + x];
    }
  }
  return quantileInPlace(border.subarray(0, taken), 0.5) > 127;
}

function invert(plane: Plane): Plane {
  const data = new Float32Array(plane.data.length);
  for (let i = 0; i < data.length; i++) data[i] = 255 - plane.data[i];
  return { data, width: plane.width, height: plane.height };
}

// ---------------------------------------------------------------------------- cleaning

/**
 * Remove uneven lighting and noise: fit a smooth surface to the paper (pixels away from the
 * ink), subtract it, then stretch so that the noise floor is 0 and the core of the strokes 255.
 * On lit paper (`lightPaper`, the plane inverted) light multiplies paper and ink alike, so the
 * ink's contrast is also divided by the local paper brightness (flat-field correction).
 * On a clean MNIST image the surface is 0 and the stretch is (nearly) the identity.
 *
 * Cost: the preprocessing of a 28x28 PNG digit (the API's commonest input) was cut to under a
 * third of its CPU time (the server's CPU per request: `npm run bench -- --only http`), with
 * bit-identical answers (test/image/preprocess.golden.test.ts): rounds stop once nothing would
 * change, temporaries are reused, quantiles select instead of sorting, the surface fit keeps its
 * sums in registers.
 */
function cleanInk(plane: Plane, options: { lightPaper?: boolean; keepFaint?: boolean } = {}): InkPlane {
  const lightPaper = options.lightPaper ?? false;
  const { width, height } = plane;
  const halo = Math.max(2, Math.round(TUNING.inkHaloShare * (width + height)));
  const work = cleaningWork(plane.data.length);
  let residual = plane.data;
  let inkMask: Uint8Array | undefined;
  /** Otsu's threshold of `residual` as it is now, once known. */
  let residualThreshold: number | undefined;
  // A steep gradient can fool the first threshold; two refits on the residual settle it.
  for (let round = 0; round < 3; round++) {
    const threshold = otsuThreshold(residual);
    residualThreshold = threshold;
    for (let i = 0; i < residual.length; i++) work.above[i] = residual[i] > threshold ? 1 : 0;
    const mask = dilate(work.above, width, height, halo, inkMask === work.masks[0] ? work.masks[1] : work.masks[0]);
    // The same mask fits the same surface to the same plane: the residual, and every later
    // round, would come out as they are. Most pictures settle after one or two rounds (a clean
    // 28x28 digit after the first refit), which saves a third of the cleaning or more.
    if (inkMask && sameBytes(mask, inkMask)) break;
    inkMask = mask;
    // This round's threshold is taken: the last residual is no longer needed, its array is reused.
    const surface = fitQuadraticSurface(plane, mask, work.surface);
    const before = residual;
    residual = lightPaper ? flatField(plane.data, surface, work) : subtract(plane.data, surface, work.residual);
    residualThreshold = undefined;
    // The first fit changed no value (paper flat at 0, as around a clean digit: the surface is
    // 0): the next round would threshold the same values into the same mask, and so on. The
    // threshold of these values is this round's. (Later rounds write over `before`: the mask
    // comparison above settles those.)
    if (round === 0 && sameValues(residual, before)) {
      residualThreshold = threshold;
      break;
    }
  }
  if (!inkMask) throw new Error('unreachable: the first cleaning round always sets the ink mask');
  const { floor, noise } = paperStatistics(residual, inkMask, width, height, work.samples);
  const ink = inkLevel(residual, residualThreshold ?? otsuThreshold(residual), work.samples);
  // A clean MNIST-sized image whose strokes already reach white (MNIST itself) is left as it is.
  const alreadyClean = options.keepFaint === true && ink >= 245 && floor + 3 * noise <= 2;
  const faint = alreadyClean ? 0 : TUNING.faintShare * 255;
  const lo = alreadyClean ? 0 : floor + 3 * noise;
  const contrast = alreadyClean ? 255 : ink - lo;
  const cleaned = new Float32Array(residual.length);
  const blank = contrast < TUNING.minContrast || ink - floor < TUNING.minContrastOverNoise * noise;
  if (!blank) {
    const gain = 255 / contrast;
    for (let i = 0; i < cleaned.length; i++) {
      const v = (residual[i] - lo) * gain;
      cleaned[i] = v <= faint ? 0 : v >= 255 ? 255 : v;
    }
  }
  return { plane: { data: cleaned, width, height }, blank };
}

/** cleanInk's temporaries: none of them leaves it. */
interface CleaningWork {
  above: Uint8Array;
  /** Two ink masks: this round's and the last one, to compare. */
  masks: [Uint8Array, Uint8Array];
  surface: Float32Array;
  residual: Float32Array;
  /** Samples for medians and percentiles (at most one per pixel). */
  samples: Float64Array;
}

/** Kept between calls for pictures up to SCRATCH_PIXELS (see pixel-ops.ts); grown once. */
let smallWork: CleaningWork | undefined;

function cleaningWork(n: number): CleaningWork {
  const make = (size: number): CleaningWork => ({
    above: new Uint8Array(size),
    masks: [new Uint8Array(size), new Uint8Array(size)],
    surface: new Float32Array(size),
    residual: new Float32Array(size),
    samples: new Float64Array(size),
  });
  if (n > SCRATCH_PIXELS) return make(n);
  smallWork ??= make(SCRATCH_PIXELS);
  const w = smallWork;
  return {
    above: w.above.subarray(0, n),
    masks: [w.masks[0].subarray(0, n), w.masks[1].subarray(0, n)],
    surface: w.surface.subarray(0, n),
    residual: w.residual.subarray(0, n),
    samples: w.samples.subarray(0, n),
  };
}

/** Equal values (=== : -0 equals 0, which every later step treats alike; a NaN equals nothing). */
function sameValues(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function subtract(data: Float32Array, surface: Float32Array, out: Float32Array): Float32Array {
  for (let i = 0; i < out.length; i++) out[i] = data[i] - surface[i];
  return out;
}

/**
 * Inverted lit paper: data = 255 - light·reflectance. Ink contrast over the paper, divided by
 * the local paper brightness and brought back to the picture's median paper brightness.
 */
function flatField(data: Float32Array, surface: Float32Array, work: CleaningWork): Float32Array {
  // The surface is smooth: a couple of thousand samples give its median.
  const step = Math.max(1, Math.floor(surface.length / 2000));
  const brightness = work.samples.subarray(0, Math.ceil(surface.length / step));
  for (let i = 0, k = 0; i < surface.length; i += step) brightness[k++] = 255 - surface[i];
  const reference = Math.max(16, quantileInPlace(brightness, 0.5));
  const out = work.residual;
  for (let i = 0; i < out.length; i++) out[i] = ((data[i] - surface[i]) * reference) / Math.max(16, 255 - surface[i]);
  return out;
}

/** Median level and robust deviation (MAD) of the paper, away from the ink. */
function paperStatistics(
  residual: Float32Array,
  inkMask: Uint8Array,
  width: number,
  height: number,
  buffer: Float64Array,
): { floor: number; noise: number } {
  const step = sampleStep(width, height, 20000);
  let count = 0;
  for (let y = 0; y < height; y += step) {
    for (let x = 0; x < width; x += step) {
      const i = y * width + x;
      if (!inkMask[i]) buffer[count++] = residual[i];
    }
  }
  if (count === 0) return { floor: 0, noise: 0 };
  const samples = buffer.subarray(0, count);
  // The median reorders the samples; the deviations are taken of the same values, so their median is the same.
  const floor = quantileInPlace(samples, 0.5);
  for (let i = 0; i < count; i++) samples[i] = Math.abs(samples[i] - floor);
  return { floor, noise: 1.4826 * quantileInPlace(samples, 0.5) };
}

/** The level of the core of the strokes: a high percentile of the pixels Otsu (`threshold`) calls ink. */
function inkLevel(residual: Float32Array, threshold: number, ink: Float64Array): number {
  const step = Math.max(1, Math.floor(residual.length / 40000));
  let count = 0;
  for (let i = 0; i < residual.length; i += step) if (residual[i] > threshold) ink[count++] = residual[i];
  return count ? quantileInPlace(ink.subarray(0, count), 0.9) : 0;
}

// ---------------------------------------------------------------------------- components

interface InkParts {
  /** The components that make the digit. */
  parts: Component[];
  labels: Int32Array;
  reason?: NotADigitReason;
}

export function isSpeck(c: Component, plane: Plane): boolean {
  const minSide = Math.max(3, TUNING.speckShare * Math.max(plane.width, plane.height));
  return Math.max(boxWidth(c), boxHeight(c)) < minSide;
}

/**
 * Which components are the digit: specks are dropped; the largest piece must hold a fair share
 * of the ink (else it is scribble, text, noise); pieces of a broken stroke are kept with it.
 */
function selectDigitParts(plane: Plane): InkParts {
  const { labels, components } = connectedComponents(plane, 0);
  const solid = components.filter((c) => !isSpeck(c, plane));
  if (solid.length === 0) return { parts: [], labels, reason: 'blank' };
  const total = solid.reduce((s, c) => s + c.mass, 0);
  const largest = solid.reduce((a, b) => (b.mass > a.mass ? b : a));
  const parts = solid.filter((c) => c.mass >= TUNING.minPartShare * largest.mass);
  const reason =
    largest.mass < TUNING.minDominantShare * total
      ? 'no dominant stroke'
      : tooSmall(parts, plane)
        ? 'too small'
        : undefined;
  return { parts, labels, reason };
}

/** The digit's parts span less than TUNING.minInkShare of the picture's longer side. */
function tooSmall(parts: Component[], plane: Plane): boolean {
  const width = Math.max(...parts.map((c) => c.maxX)) - Math.min(...parts.map((c) => c.minX)) + 1;
  const height = Math.max(...parts.map((c) => c.maxY)) - Math.min(...parts.map((c) => c.minY)) + 1;
  return Math.max(width, height) < TUNING.minInkShare * Math.max(plane.width, plane.height);
}

// ---------------------------------------------------------------------------- crop, fit, centre

/**
 * Crop the cleaned plane to the digit's parts (other ink zeroed), fit it into spec.fit keeping
 * the aspect ratio, and place it in spec.size² with its centre of mass at the centre.
 */
export function placeInk(plane: Plane, spec: PreprocessSpec = PREPROCESS_SPEC, stages?: Stage[]): Preprocessed {
  const { parts, labels, reason } = selectDigitParts(plane);
  if (parts.length === 0) return finishBlank(spec, stages);
  const cropped = cropToParts(plane, labels, parts);
  stages?.push(stageOf('cropped', cropped));
  const scaled = fitToBox(cropped, spec.fit);
  stages?.push(stageOf('scaled', scaled));
  const centred = centreByMass(scaled, spec.size);
  const pixels = toBytes(centred.data);
  stages?.push({ name: 'centred', width: spec.size, height: spec.size, pixels });
  const result: Preprocessed = { input: scalePixels(pixels, new Float32Array(pixels.length), spec), pixels };
  if (reason) result.reason = reason;
  if (stages) result.stages = stages;
  return result;
}

function cropToParts(plane: Plane, labels: Int32Array, parts: Component[]): Plane {
  const minX = Math.min(...parts.map((c) => c.minX));
  const maxX = Math.max(...parts.map((c) => c.maxX));
  const minY = Math.min(...parts.map((c) => c.minY));
  const maxY = Math.max(...parts.map((c) => c.maxY));
  // keep[label] = 1 for the digit's parts (label 0, no ink, is never kept).
  const keep = new Uint8Array(Math.max(...parts.map((c) => c.label)) + 1);
  for (const c of parts) keep[c.label] = 1;
  const width = maxX - minX + 1;
  const height = maxY - minY + 1;
  const data = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y + minY) * plane.width + (x + minX);
      if (keep[labels[i]] === 1) data[y * width + x] = plane.data[i];
    }
  }
  return { data, width, height };
}

/** Longest side → `fit` pixels, aspect kept, anti-aliased (area average when shrinking). */
function fitToBox(plane: Plane, fit: number): Plane {
  const s = fit / Math.max(plane.width, plane.height);
  const width = Math.min(fit, Math.max(1, Math.round(plane.width * s)));
  const height = Math.min(fit, Math.max(1, Math.round(plane.height * s)));
  return resample(plane, width, height);
}

/**
 * Place in a size² field so that the centre of mass lands on pixel (size/2, size/2), shifted by
 * whole pixels as MNIST's builders did (MNIST test digits have their centre of mass at
 * 14.0 ± 0.5 on both axes, 0-based).
 */
function centreByMass(plane: Plane, size: number): Plane {
  const com = centreOfMass(plane);
  const target = size / 2;
  const ox = clamp(Math.round(target - com.x), 0, size - plane.width);
  const oy = clamp(Math.round(target - com.y), 0, size - plane.height);
  const data = new Float32Array(size * size);
  for (let y = 0; y < plane.height; y++) {
    for (let x = 0; x < plane.width; x++) data[(y + oy) * size + (x + ox)] = plane.data[y * plane.width + x];
  }
  return { data, width: size, height: size };
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

function finishBlank(spec: PreprocessSpec, stages?: Stage[]): Preprocessed {
  const pixels = new Uint8Array(spec.size * spec.size);
  const result: Preprocessed = {
    input: scalePixels(pixels, new Float32Array(pixels.length), spec),
    pixels,
    reason: 'blank',
  };
  if (stages) {
    stages.push({ name: 'centred', width: spec.size, height: spec.size, pixels });
    result.stages = stages;
  }
  return result;
}

export function stageOf(name: string, plane: Plane): Stage {
  return { name, width: plane.width, height: plane.height, pixels: toBytes(plane.data) };
}

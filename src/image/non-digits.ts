/**
 * A seeded generator of pictures that are not digits, for teaching the model to say so
 * (the 11th "not a digit" output, `nonDigits` in train/config.ts) and for measuring how often it does
 * (`mnist-cnn data non-digits`, bench/non-digits.ts). Each picture is drawn as people would
 * hand one in (dark ink on light paper of any size, lit unevenly, with noise; sometimes light on
 * dark) and then put through the project's own preprocessing (preprocess.ts), so that a model
 * learns on what it really sees: a lone dot, say, arrives as a blob scaled up to fill the 20x20
 * box.
 *
 * Two splits that share no picture: `train` (and its validation draws, with another seed) and
 * `test`, drawn with other seeds, other fonts and a few other styles, so that a figure on
 * `test` says something about non-digits made differently. Letters are only those nobody reads
 * as a digit (no o, O, l, I, S, Z, B, g, q, b...).
 */
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { deriveSeed, createRng, type Rng } from '../util/rng.js';
import { startModuleWorker } from '../util/worker.js';
import { PREPROCESS_SPEC, type PreprocessSpec } from '../data/model-input.js';
import { InkCanvas, onPaper, randomPaperStyle, type Point } from './ink-canvas.js';
import { preprocessImage, type NotADigitReason, type RawImage } from './preprocess.js';

export const NON_DIGIT_CATEGORIES = ['blank', 'dot', 'noise', 'scribble', 'hatching', 'letter', 'shape', 'strokes'] as const;
export type NonDigitCategory = (typeof NON_DIGIT_CATEGORIES)[number];

export const NON_DIGIT_SPLITS = ['train', 'test'] as const;
export type NonDigitSplit = (typeof NON_DIGIT_SPLITS)[number];

/** Letters and signs that no person reads as a digit. */
export const NON_DIGIT_LETTERS = 'aehkmnruvwxyAEHKMNRUVWXY#@%*';

/** Fonts (fonts-dejavu-core, fonts-liberation): the test split's are none of the train split's. */
export const NON_DIGIT_FONTS: Record<NonDigitSplit, { family: string; weight: string; style: string }[]> = {
  train: [
    { family: 'DejaVu Sans', weight: 'normal', style: 'normal' },
    { family: 'DejaVu Sans', weight: 'bold', style: 'normal' },
    { family: 'DejaVu Serif', weight: 'normal', style: 'normal' },
    { family: 'DejaVu Sans Mono', weight: 'normal', style: 'normal' },
    { family: 'Liberation Sans Narrow', weight: 'normal', style: 'normal' },
  ],
  test: [
    { family: 'Liberation Sans', weight: 'normal', style: 'normal' },
    { family: 'Liberation Serif', weight: 'normal', style: 'italic' },
    { family: 'Liberation Mono', weight: 'bold', style: 'normal' },
    { family: 'DejaVu Serif', weight: 'bold', style: 'italic' },
    { family: 'DejaVu Sans Condensed', weight: 'normal', style: 'oblique' },
  ],
};

/** Seeds of the splits' streams: a split and a picture number always give the same picture. */
const SPLIT_CODES: Record<NonDigitSplit, number> = { train: 0x7a11, test: 0x7e57 };

/** One picture of a category, on paper, as decoding would give it (one gray channel). */
export async function drawNonDigit(category: NonDigitCategory, split: NonDigitSplit, rng: Rng): Promise<RawImage> {
  const canvas = await drawNonDigitInk(category, split, rng);
  return onPaper(canvas, randomPaperStyle(rng, { invertedShare: split === 'test' ? 0.25 : 0.15 }), rng);
}

/** The ink of one picture of a category (before it is put on paper), on a sheet of 32-400 px a side. */
export async function drawNonDigitInk(category: NonDigitCategory, split: NonDigitSplit, rng: Rng): Promise<InkCanvas> {
  const side = 48 + rng.int(272);
  const aspect = 0.6 + rng.next();
  const width = Math.max(32, Math.round(side * Math.sqrt(aspect)));
  const height = Math.max(32, Math.round(side / Math.sqrt(aspect)));
  const canvas = new InkCanvas(width, height);
  const pen = Math.max(1, Math.min(width, height) * (0.015 + 0.05 * rng.next()));
  DRAW[category](canvas, rng, pen, split);
  if (category === 'letter') canvas.add(await renderLetters(width, height, rng, split));
  return canvas;
}

type Draw = (canvas: InkCanvas, rng: Rng, pen: number, split: NonDigitSplit) => void;

const DRAW: Record<NonDigitCategory, Draw> = {
  blank: (canvas, rng) => {
    // Paper alone; sometimes a faint smudge or shadow, too faint to be ink.
    if (rng.next() < 0.4) {
      const r = Math.min(canvas.width, canvas.height) * (0.2 + 0.5 * rng.next());
      canvas.dot(randomPoint(canvas, rng, 0), r, r * (0.5 + rng.next()), 0.03 + 0.05 * rng.next());
    }
  },
  dot: (canvas, rng, _pen, split) => {
    // Any size: a pen tap (a few pixels) up to a blob a quarter of the sheet wide.
    const side = Math.min(canvas.width, canvas.height);
    const r = side * Math.exp(Math.log(0.008) + rng.next() * (Math.log(0.25) - Math.log(0.008)));
    const centre = randomPoint(canvas, rng, 0.15);
    if (split === 'test' && rng.next() < 0.4) canvas.fill(blob(centre, r, rng));
    else canvas.dot(centre, r, r * (0.7 + 0.6 * rng.next()));
  },
  noise: (canvas, rng) => {
    const kind = rng.int(3);
    const n = canvas.width * canvas.height;
    if (kind === 0) {
      // Speckles over the sheet (dust, sensor noise turned to ink).
      const density = 0.02 + 0.25 * rng.next();
      for (let i = 0; i < n; i++) if (rng.next() < density) canvas.ink[i] = 0.5 + 0.5 * rng.next();
    } else if (kind === 1) {
      // Many small blots.
      const count = 20 + rng.int(100);
      const side = Math.min(canvas.width, canvas.height);
      for (let k = 0; k < count; k++) canvas.dot(randomPoint(canvas, rng, 0), side * (0.005 + 0.03 * rng.next()));
    } else {
      // A smooth random field cut at a level: irregular patches of ink.
      const field = smoothNoise(canvas.width, canvas.height, 4 + rng.int(10), rng);
      const level = 0.55 + 0.3 * rng.next();
      for (let i = 0; i < n; i++) canvas.ink[i] = field[i] > level ? 1 : 0;
    }
  },
  scribble: (canvas, rng, pen) => {
    // A tangle: a random walk that turns often and stays on the sheet.
    const side = Math.min(canvas.width, canvas.height);
    const points: Point[] = [randomPoint(canvas, rng, 0.3)];
    let heading = rng.next() * 2 * Math.PI;
    let turn = 0;
    const steps = 40 + rng.int(120);
    const step = side * (0.02 + 0.04 * rng.next());
    for (let k = 0; k < steps; k++) {
      turn = 0.8 * turn + 0.5 * rng.normal();
      heading += turn;
      const last = points[points.length - 1];
      let next = { x: last.x + step * Math.cos(heading), y: last.y + step * Math.sin(heading) };
      if (next.x < 0.1 * canvas.width || next.x > 0.9 * canvas.width || next.y < 0.1 * canvas.height || next.y > 0.9 * canvas.height) {
        heading += Math.PI * (0.6 + 0.8 * rng.next());
        next = last;
      }
      points.push(next);
    }
    canvas.stroke(points, pen);
  },
  hatching: (canvas, rng, pen) => {
    // Parallel lines, cross-hatching or a grid over part of the sheet.
    const kind = rng.int(3);
    const angles = kind === 2 ? [0, Math.PI / 2] : kind === 1 ? [rng.next() * Math.PI, rng.next() * Math.PI] : [rng.next() * Math.PI];
    const box = randomBox(canvas, rng, 0.4);
    for (const angle of angles) {
      const lines = 4 + rng.int(10);
      const [c, s] = [Math.cos(angle), Math.sin(angle)];
      const half = Math.hypot(box.w, box.h) / 2;
      for (let k = 0; k < lines; k++) {
        const offset = (k / (lines - 1) - 0.5) * Math.min(box.w, box.h);
        const mid = { x: box.cx - s * offset, y: box.cy + c * offset };
        canvas.stroke(clipToBox([{ x: mid.x - c * half, y: mid.y - s * half }, { x: mid.x + c * half, y: mid.y + s * half }], box), pen * 0.7);
      }
    }
  },
  letter: () => undefined, // rendered from a font in drawNonDigit
  shape: (canvas, rng, pen, split) => {
    const shapes = split === 'train' ? TRAIN_SHAPES : [...TRAIN_SHAPES, ...TEST_ONLY_SHAPES];
    shapes[rng.int(shapes.length)](canvas, rng, pen);
  },
  strokes: (canvas, rng, pen) => {
    // Three to seven strokes, straight or bent, that make no digit together.
    const count = 3 + rng.int(5);
    const side = Math.min(canvas.width, canvas.height);
    for (let k = 0; k < count; k++) {
      const a = randomPoint(canvas, rng, 0.1);
      const angle = rng.next() * 2 * Math.PI;
      const length = side * (0.1 + 0.5 * rng.next());
      const b = { x: a.x + length * Math.cos(angle), y: a.y + length * Math.sin(angle) };
      const bend = (rng.next() - 0.5) * 0.6 * length;
      const mid = { x: (a.x + b.x) / 2 - bend * Math.sin(angle), y: (a.y + b.y) / 2 + bend * Math.cos(angle) };
      canvas.stroke(wobble([a, mid, b], rng, pen * 0.3), pen);
    }
  },
};

type Shape = (canvas: InkCanvas, rng: Rng, pen: number) => void;

/** Shapes: centred-ish, filling 30-80% of the sheet, hand-drawn wobble, outline or filled. */
const TRAIN_SHAPES: Shape[] = [
  // star
  (canvas, rng, pen) => {
    const { c, r } = placement(canvas, rng);
    const points = 5 + rng.int(4);
    const star = regular(c, r, points * 2, rng.next() * Math.PI).map((p, k) => (k % 2 ? lerp(c, p, 0.35 + 0.15 * rng.next()) : p));
    outlineOrFill(canvas, rng, star, pen);
  },
  // smiley
  (canvas, rng, pen) => {
    const { c, r } = placement(canvas, rng);
    canvas.stroke(close(regular(c, r, 40, 0)), pen);
    canvas.dot({ x: c.x - 0.35 * r, y: c.y - 0.3 * r }, Math.max(pen, 0.1 * r));
    canvas.dot({ x: c.x + 0.35 * r, y: c.y - 0.3 * r }, Math.max(pen, 0.1 * r));
    const mouth = Array.from({ length: 12 }, (_, k) => {
      const a = Math.PI * (0.15 + (0.7 * k) / 11);
      return { x: c.x + 0.55 * r * Math.cos(a), y: c.y + 0.1 * r + 0.45 * r * Math.sin(a) };
    });
    canvas.stroke(mouth, pen);
  },
  // arrow, any direction
  (canvas, rng, pen) => {
    const { c, r } = placement(canvas, rng);
    const a = rng.next() * 2 * Math.PI;
    const tip = { x: c.x + r * Math.cos(a), y: c.y + r * Math.sin(a) };
    const tail = { x: c.x - r * Math.cos(a), y: c.y - r * Math.sin(a) };
    canvas.stroke(wobble([tail, tip], rng, pen * 0.2), pen);
    for (const side of [-1, 1]) {
      const b = a + Math.PI + side * (0.4 + 0.3 * rng.next());
      canvas.stroke([tip, { x: tip.x + 0.45 * r * Math.cos(b), y: tip.y + 0.45 * r * Math.sin(b) }], pen);
    }
  },
  // a cross in a box
  (canvas, rng, pen) => {
    const { c, r } = placement(canvas, rng);
    const box = regular(c, r * Math.SQRT2, 4, Math.PI / 4 + 0.2 * (rng.next() - 0.5));
    canvas.stroke(wobble(close(box), rng, pen * 0.3), pen);
    canvas.stroke(wobble([box[0], box[2]], rng, pen * 0.3), pen);
    canvas.stroke(wobble([box[1], box[3]], rng, pen * 0.3), pen);
  },
  // triangle
  (canvas, rng, pen) => {
    const { c, r } = placement(canvas, rng);
    outlineOrFill(canvas, rng, regular(c, r, 3, rng.next() * 2 * Math.PI), pen);
  },
  // square or rectangle
  (canvas, rng, pen) => {
    const { c, r } = placement(canvas, rng);
    const box = regular(c, r, 4, Math.PI / 4 + 0.3 * (rng.next() - 0.5)).map((p) => ({ x: p.x, y: c.y + (p.y - c.y) * (0.5 + 0.5 * rng.next()) }));
    outlineOrFill(canvas, rng, box, pen);
  },
  // heart
  (canvas, rng, pen) => {
    const { c, r } = placement(canvas, rng);
    const heart = Array.from({ length: 48 }, (_, k) => {
      const t = (2 * Math.PI * k) / 48;
      return { x: c.x + (r * 16 * Math.sin(t) ** 3) / 17, y: c.y - (r * (13 * Math.cos(t) - 5 * Math.cos(2 * t) - 2 * Math.cos(3 * t) - Math.cos(4 * t))) / 17 };
    });
    outlineOrFill(canvas, rng, heart, pen);
  },
  // a hash sign drawn by hand
  (canvas, rng, pen) => {
    const { c, r } = placement(canvas, rng);
    for (const d of [-0.35, 0.35]) {
      canvas.stroke(wobble([{ x: c.x + d * r + 0.2 * r, y: c.y - r }, { x: c.x + d * r - 0.2 * r, y: c.y + r }], rng, pen * 0.2), pen);
      canvas.stroke(wobble([{ x: c.x - r, y: c.y + d * r }, { x: c.x + r, y: c.y + d * r }], rng, pen * 0.2), pen);
    }
  },
];

/** Shapes met only in the test split. */
const TEST_ONLY_SHAPES: Shape[] = [
  // a house
  (canvas, rng, pen) => {
    const { c, r } = placement(canvas, rng);
    const wall = [{ x: c.x - 0.7 * r, y: c.y }, { x: c.x - 0.7 * r, y: c.y + r }, { x: c.x + 0.7 * r, y: c.y + r }, { x: c.x + 0.7 * r, y: c.y }];
    canvas.stroke(wobble(close(wall), rng, pen * 0.2), pen);
    canvas.stroke(wobble([{ x: c.x - 0.9 * r, y: c.y + 0.1 * r }, { x: c.x, y: c.y - r }, { x: c.x + 0.9 * r, y: c.y + 0.1 * r }], rng, pen * 0.2), pen);
  },
  // a circle with a plus through it
  (canvas, rng, pen) => {
    const { c, r } = placement(canvas, rng);
    canvas.stroke(close(regular(c, r * 0.8, 40, 0)), pen);
    canvas.stroke([{ x: c.x - r, y: c.y }, { x: c.x + r, y: c.y }], pen);
    canvas.stroke([{ x: c.x, y: c.y - r }, { x: c.x, y: c.y + r }], pen);
  },
  // a diamond
  (canvas, rng, pen) => {
    const { c, r } = placement(canvas, rng);
    outlineOrFill(canvas, rng, regular(c, r, 4, 0).map((p) => ({ x: c.x + (p.x - c.x) * 0.7, y: p.y })), pen);
  },
];

// ---------------------------------------------------------------------------- the sets

export interface NonDigitSample {
  category: NonDigitCategory;
  /** The spec.size² bytes the model sees (white on black). */
  pixels: Uint8Array;
  /** Preprocessing's own verdict ('blank', 'no dominant stroke'...), when it gives one. */
  reason?: NotADigitReason;
}

export interface NonDigitSetOptions {
  split: NonDigitSplit;
  /** Pictures of each category. */
  perCategory: number;
  /** Another seed gives other pictures of the same split (validation draws: seed 2). */
  seed?: number;
  categories?: readonly NonDigitCategory[];
  spec?: PreprocessSpec;
  /**
   * Threads that draw (worker_threads, non-digit-worker.ts): 1 draws on this thread. Every
   * picture has its own seed, so any count gives the same bytes in the same order. Default: the
   * CPUs, at most 2, and one per `PICTURES_PER_WORKER` pictures.
   */
  threads?: number;
}

/** One picture of a set: the category's picture number n. */
interface NonDigitJob {
  category: NonDigitCategory;
  n: number;
}

/** What a drawing worker is given (non-digit-worker.ts): its share of a set's pictures. */
export interface NonDigitWork {
  split: NonDigitSplit;
  seed: number;
  spec: PreprocessSpec;
  jobs: NonDigitJob[];
}

/** A drawing worker's one message: its samples in the order of its jobs, or why it failed. */
export type NonDigitWorkReply = { type: 'done'; samples: NonDigitSample[] } | { type: 'error'; message: string };

/** The picture of a split's category number n: the same (split, seed, category, n) always gives the same bytes. */
export function nonDigitRng(split: NonDigitSplit, seed: number, category: NonDigitCategory, n: number): Rng {
  return createRng(deriveSeed(seed, SPLIT_CODES[split], NON_DIGIT_CATEGORIES.indexOf(category), n));
}

/**
 * Fewest pictures for which a set is drawn on worker threads by default: starting a worker and
 * loading the drawing code in it took as long as drawing a few dozen pictures from dist/, and
 * several times that from source under tsx.
 */
const PICTURES_PER_WORKER = 100;

/** A set of non-digits as the model sees them, `perCategory` of each category in turn. */
export async function nonDigitSet(options: NonDigitSetOptions): Promise<NonDigitSample[]> {
  const jobs = (options.categories ?? NON_DIGIT_CATEGORIES).flatMap((category) => Array.from({ length: options.perCategory }, (_, n) => ({ category, n })));
  const threads = options.threads ?? Math.max(1, Math.min(2, availableParallelism(), Math.floor(jobs.length / PICTURES_PER_WORKER)));
  if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`nonDigitSet: threads must be a whole number >= 1, got ${threads}`);
  const work = { split: options.split, seed: options.seed ?? 1, spec: options.spec ?? PREPROCESS_SPEC };
  const used = Math.min(threads, jobs.length);
  return used <= 1 ? drawNonDigitSamples({ ...work, jobs }) : drawOnWorkers(work, jobs, used);
}

/** The samples of a list of pictures, drawn one after another on this thread. */
export async function drawNonDigitSamples(work: NonDigitWork): Promise<NonDigitSample[]> {
  const samples: NonDigitSample[] = [];
  for (const { category, n } of work.jobs) {
    const picture = await drawNonDigit(category, work.split, nonDigitRng(work.split, work.seed, category, n));
    const { pixels, reason } = preprocessImage(picture, { spec: work.spec });
    samples.push(reason ? { category, pixels, reason } : { category, pixels });
  }
  return samples;
}

/**
 * The samples of `jobs` drawn on `threads` worker threads. Worker k draws pictures k, k + threads,
 * k + 2 threads...: dealt like cards rather than cut in blocks, each gets its share of every
 * category, and categories differ in cost (a letter, through sharp, takes about twice as long
 * as a dot). The workers are ended however drawing ends, so none keeps the process alive.
 */
async function drawOnWorkers(work: Omit<NonDigitWork, 'jobs'>, jobs: NonDigitJob[], threads: number): Promise<NonDigitSample[]> {
  const workers: Worker[] = [];
  try {
    for (let k = 0; k < threads; k++) {
      workers.push(startModuleWorker(new URL('./non-digit-worker.js', import.meta.url), { ...work, jobs: jobs.filter((_, i) => i % threads === k) } satisfies NonDigitWork));
    }
    const parts = await Promise.all(workers.map(workerSamples));
    return jobs.map((_, i) => parts[i % threads][Math.floor(i / threads)]);
  } finally {
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
}

/** The samples a drawing worker answers with (its first message). */
function workerSamples(worker: Worker): Promise<NonDigitSample[]> {
  return new Promise((resolve, reject) => {
    // Kept on until the worker is ended: a worker's 'error' event with no listener would be thrown.
    worker.on('error', (err: Error) => reject(new Error(`a non-digit drawing thread failed: ${err.message}`)));
    worker.once('exit', (code: number) => reject(new Error(`a non-digit drawing thread ended (exit code ${code}) before it answered`)));
    worker.once('message', (reply: NonDigitWorkReply) => {
      if (reply.type === 'done') resolve(reply.samples);
      else reject(new Error(`a non-digit drawing thread failed: ${reply.message}`));
    });
  });
}

// ---------------------------------------------------------------------------- letters

/** Letters (one, or a short word) from the split's fonts, as ink coverage 0..1 (sharp renders the SVG text). */
async function renderLetters(width: number, height: number, rng: Rng, split: NonDigitSplit): Promise<Float32Array> {
  const { default: sharp } = await import('sharp');
  const fonts = NON_DIGIT_FONTS[split];
  const font = fonts[rng.int(fonts.length)];
  const count = rng.next() < 0.8 ? 1 : 2 + rng.int(3);
  const text = Array.from({ length: count }, () => NON_DIGIT_LETTERS[rng.int(NON_DIGIT_LETTERS.length)]).join('');
  const size = (Math.min(width, height) * (0.4 + 0.5 * rng.next())) / Math.sqrt(count);
  const x = width * (0.35 + 0.3 * rng.next());
  const y = height * (0.4 + 0.3 * rng.next()) + 0.3 * size;
  const rotate = 30 * (rng.next() - 0.5);
  const escaped = text.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">` +
    `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" transform="rotate(${rotate.toFixed(1)} ${x.toFixed(1)} ${y.toFixed(1)})" font-family="${font.family}" font-weight="${font.weight}" font-style="${font.style}" font-size="${size.toFixed(1)}" fill="black" text-anchor="middle">${escaped}</text></svg>`;
  const { data, info } = await sharp(Buffer.from(svg)).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const coverage = new Float32Array(width * height);
  for (let i = 0; i < coverage.length && i * info.channels < data.length; i++) coverage[i] = data[i * info.channels + info.channels - 1] / 255;
  return coverage;
}

// ---------------------------------------------------------------------------- geometry

function randomPoint(canvas: InkCanvas, rng: Rng, margin: number): Point {
  return { x: canvas.width * (margin + (1 - 2 * margin) * rng.next()), y: canvas.height * (margin + (1 - 2 * margin) * rng.next()) };
}

/** Where a shape goes: near the middle, 30-80% of the shorter side across. */
function placement(canvas: InkCanvas, rng: Rng): { c: Point; r: number } {
  const side = Math.min(canvas.width, canvas.height);
  const r = side * (0.15 + 0.25 * rng.next());
  return { c: { x: canvas.width / 2 + (rng.next() - 0.5) * (canvas.width - 2 * r), y: canvas.height / 2 + (rng.next() - 0.5) * (canvas.height - 2 * r) }, r };
}

function randomBox(canvas: InkCanvas, rng: Rng, minShare: number): { cx: number; cy: number; w: number; h: number } {
  const w = canvas.width * (minShare + (0.9 - minShare) * rng.next());
  const h = canvas.height * (minShare + (0.9 - minShare) * rng.next());
  return { cx: canvas.width / 2 + (rng.next() - 0.5) * (canvas.width - w), cy: canvas.height / 2 + (rng.next() - 0.5) * (canvas.height - h), w, h };
}

/** A line clipped to a box (Liang-Barsky); empty when it misses it. */
function clipToBox(line: [Point, Point], box: { cx: number; cy: number; w: number; h: number }): Point[] {
  const [a, b] = line;
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  let t0 = 0;
  let t1 = 1;
  const edges: [number, number][] = [
    [-dx, a.x - (box.cx - box.w / 2)],
    [dx, box.cx + box.w / 2 - a.x],
    [-dy, a.y - (box.cy - box.h / 2)],
    [dy, box.cy + box.h / 2 - a.y],
  ];
  for (const [p, q] of edges) {
    if (p === 0) {
      if (q < 0) return [];
    } else {
      const t = q / p;
      if (p < 0) t0 = Math.max(t0, t);
      else t1 = Math.min(t1, t);
    }
  }
  if (t0 >= t1) return [];
  return [{ x: a.x + t0 * dx, y: a.y + t0 * dy }, { x: a.x + t1 * dx, y: a.y + t1 * dy }];
}

function regular(c: Point, r: number, n: number, phase: number): Point[] {
  return Array.from({ length: n }, (_, k) => ({ x: c.x + r * Math.cos(phase + (2 * Math.PI * k) / n), y: c.y + r * Math.sin(phase + (2 * Math.PI * k) / n) }));
}

function close(points: Point[]): Point[] {
  return [...points, points[0]];
}

function lerp(a: Point, b: Point, t: number): Point {
  return { x: a.x + (b.x - a.x) * t, y: a.y + (b.y - a.y) * t };
}

/** An irregular filled blob around c (a dot made by a felt pen or a drop of ink). */
function blob(c: Point, r: number, rng: Rng): Point[] {
  const phases = [rng.next(), rng.next()].map((v) => v * 2 * Math.PI);
  return Array.from({ length: 24 }, (_, k) => {
    const a = (2 * Math.PI * k) / 24;
    const rr = r * (1 + 0.2 * Math.sin(2 * a + phases[0]) + 0.15 * Math.sin(3 * a + phases[1]));
    return { x: c.x + rr * Math.cos(a), y: c.y + rr * Math.sin(a) };
  });
}

/** Split each segment in four and move the points by up to `amount`: a hand-drawn line. */
function wobble(points: Point[], rng: Rng, amount: number): Point[] {
  const out: Point[] = [points[0]];
  for (let k = 1; k < points.length; k++) {
    for (let s = 1; s <= 4; s++) {
      const p = lerp(points[k - 1], points[k], s / 4);
      out.push(s === 4 ? p : { x: p.x + amount * rng.normal(), y: p.y + amount * rng.normal() });
    }
  }
  return out;
}

function outlineOrFill(canvas: InkCanvas, rng: Rng, polygon: Point[], pen: number): void {
  if (rng.next() < 0.35) canvas.fill(polygon);
  else canvas.stroke(wobble(close(polygon), rng, pen * 0.2), pen);
}

/** Values 0..1 smooth over about `cells` cells across the picture (bilinear value noise). */
function smoothNoise(width: number, height: number, cells: number, rng: Rng): Float32Array {
  const gw = cells + 2;
  const gh = Math.max(2, Math.round((cells * height) / width)) + 2;
  const grid = Float32Array.from({ length: gw * gh }, () => rng.next());
  const out = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    const gy = (y / height) * (gh - 2);
    const y0 = Math.floor(gy);
    const fy = gy - y0;
    for (let x = 0; x < width; x++) {
      const gx = (x / width) * (gw - 2);
      const x0 = Math.floor(gx);
      const fx = gx - x0;
      const v00 = grid[y0 * gw + x0];
      const v10 = grid[y0 * gw + x0 + 1];
      const v01 = grid[(y0 + 1) * gw + x0];
      const v11 = grid[(y0 + 1) * gw + x0 + 1];
      out[y * width + x] = (v00 * (1 - fx) + v10 * fx) * (1 - fy) + (v01 * (1 - fx) + v11 * fx) * fy;
    }
  }
  return out;
}

/**
 * Pictures of each category in the training set of non-digits: 4,000 drawn, 2,624 reach the
 * model (seed 1). Two threads (`threads` of nonDigitSet) drew them markedly faster than one while
 * other processes left a core mostly free, and no faster while they held a whole core (Linux
 * autogroup shares the CPU between sessions, not threads). Two threads cost somewhat more CPU
 * time (the second worker's start and warm-up).
 */
const NON_DIGIT_TRAIN_PER_CATEGORY = 500;

/**
 * The non-digits a run trains on (`nonDigits` > 0): the train split drawn with the run's seed,
 * less those preprocessing already refuses (they never reach the model), as 28x28 bytes one after another.
 */
export async function nonDigitTrainingImages(seed: number, perCategory = NON_DIGIT_TRAIN_PER_CATEGORY): Promise<{ images: Uint8Array; count: number }> {
  return packPixels((await nonDigitSet({ split: 'train', perCategory, seed })).filter((s) => !s.reason));
}

/** Samples' pixels one after another. */
export function packPixels(samples: readonly { pixels: Uint8Array }[]): { images: Uint8Array; count: number } {
  const size = samples[0]?.pixels.length ?? 0;
  const images = new Uint8Array(samples.length * size);
  samples.forEach((s, i) => images.set(s.pixels, i * size));
  return { images, count: samples.length };
}

/**
 * Write a split's pictures as PNG files, DIR/<category>/<n>.png, as people would hand them in
 * (before preprocessing): `mnist-cnn predict RUN DIR` then reads them like any photo. Returns
 * the number of files written.
 */
export async function writeNonDigitPictures(dir: string, options: Omit<NonDigitSetOptions, 'spec'>): Promise<number> {
  const [{ default: sharp }, { mkdir }, path, { writeFileAtomic }] = await Promise.all([import('sharp'), import('node:fs/promises'), import('node:path'), import('../util/fs.js')]);
  const seed = options.seed ?? 1;
  let written = 0;
  for (const category of options.categories ?? NON_DIGIT_CATEGORIES) {
    await mkdir(path.join(dir, category), { recursive: true });
    for (let n = 0; n < options.perCategory; n++) {
      const picture = await drawNonDigit(category, options.split, nonDigitRng(options.split, seed, category, n));
      const png = await sharp(picture.data, { raw: { width: picture.width, height: picture.height, channels: picture.channels } }).png().toBuffer();
      await writeFileAtomic(path.join(dir, category, `${String(n).padStart(4, '0')}.png`), png);
      written++;
    }
  }
  return written;
}

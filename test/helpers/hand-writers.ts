/**
 * A population of writers that is not MNIST's: digits drawn stroke by stroke from skeletons, each
 * writer with a style of their own, then put through the photo pipeline (image/preprocess.ts) as
 * the page and `predict` put any picture. For measuring `finetune` (bench/finetune.ts) and for
 * its tests: "10 corrections per digit from a new population, then accuracy on the rest".
 *
 * How a digit is made:
 * - a skeleton: the digit's strokes as polylines in a unit box (x right, y down, the digit about
 *   0.6 wide and 1 high), in one of several forms per digit that people write (a 1 as a stick, with
 *   a flag, with a flag and a foot; a 7 plain, with a bar across its stem, with a tick, with a
 *   curved stem; an open or closed 4; a 2 with a loop; a flat-topped 3; a slashed 0; an 8 of two
 *   loops or one figure-eight stroke; a 9 with a straight or a hooked stem...);
 * - the writer's style, kept for all their digits: which form of each digit, slant, width, pen
 *   width, roundness of loops, how much their hand wanders, and whether they write on the page's
 *   pad (white ink on a black 280x280 canvas, round brush, as src/serve/page/pad.ts draws) or on
 *   paper photographed or scanned (image/ink-canvas.ts `onPaper`: uneven light, noise, now and
 *   then light on dark);
 * - every sample of a writer: a smooth random warp of the skeleton (no two alike), a small
 *   rotation, size and place on the sheet, a hand tremor along the strokes.
 *
 * Drawn with image/ink-canvas.ts (anti-aliased strokes with round caps and joins, the pad's
 * brush in Node). Seeded: the same seed and writer give the same pictures.
 */
import { PREPROCESS_SPEC, type PreprocessSpec } from '../../src/data/model-input.js';
import { InkCanvas, onPaper, randomPaperStyle, type Point } from '../../src/image/ink-canvas.js';
import { preprocessImage, type RawImage } from '../../src/image/preprocess.js';
import { createRng, deriveSeed, type Rng } from '../../src/util/rng.js';

type Stroke = Point[];
type Skeleton = Stroke[];

// ---------------------------------------------------------------------------- curves

const DEG = Math.PI / 180;

/** Points along an ellipse arc from angle a0 to a1 (degrees; y down, so 90 is the bottom). */
function arc(cx: number, cy: number, rx: number, ry: number, a0: number, a1: number, n = 24): Point[] {
  return Array.from({ length: n + 1 }, (_, k) => {
    const a = (a0 + ((a1 - a0) * k) / n) * DEG;
    return { x: cx + rx * Math.cos(a), y: cy + ry * Math.sin(a) };
  });
}

/** A cubic Bézier curve, sampled. */
function bezier(p0: Point, p1: Point, p2: Point, p3: Point, n = 16): Point[] {
  return Array.from({ length: n + 1 }, (_, k) => {
    const t = k / n;
    const u = 1 - t;
    return {
      x: u * u * u * p0.x + 3 * u * u * t * p1.x + 3 * u * t * t * p2.x + t * t * t * p3.x,
      y: u * u * u * p0.y + 3 * u * u * t * p1.y + 3 * u * t * t * p2.y + t * t * t * p3.y,
    };
  });
}

const p = (x: number, y: number): Point => ({ x, y });
const line = (...points: [number, number][]): Point[] => points.map(([x, y]) => p(x, y));
/** Strokes joined end to start into one (a pen that does not lift). */
const joined = (...parts: Point[][]): Point[] => parts.flat();

// ---------------------------------------------------------------------------- the forms of each digit

/** `r`: the writer's roundness of loops (0.8 narrow .. 1.2 round). */
type Form = (r: number) => Skeleton;

const FORMS: Form[][] = [
  // 0
  [
    (r) => [arc(0, 0, 0.27 * r, 0.48, -90, -90 - 370)],
    (r) => [arc(0, 0, 0.22 * r, 0.48, -80, -80 - 380)],
    (r) => [arc(0, 0, 0.27 * r, 0.48, -90, -90 - 360), line([0.24, -0.42], [-0.24, 0.42])],
  ],
  // 1
  [
    () => [line([0, -0.5], [0, 0.5])],
    () => [line([-0.2, -0.26], [0.02, -0.5], [0, 0.5])],
    () => [line([-0.2, -0.26], [0.02, -0.5], [0, 0.5]), line([-0.2, 0.5], [0.2, 0.5])],
    () => [line([-0.24, -0.34], [0.03, -0.5], [0.0, 0.5])],
  ],
  // 2
  [
    (r) => [joined(arc(0, -0.24, 0.27 * r, 0.26, -165, 15), line([-0.28, 0.5], [0.3, 0.5]))],
    (r) => [
      joined(
        arc(0, -0.24, 0.27 * r, 0.26, -165, 20),
        line([-0.2, 0.38]),
        arc(-0.2, 0.44, 0.09, 0.06, 0, 360, 12),
        line([0.3, 0.46]),
      ),
    ],
    () => [line([-0.28, -0.34], [-0.02, -0.5], [0.26, -0.36], [0.2, -0.1], [-0.28, 0.5], [0.3, 0.5])],
  ],
  // 3
  [
    (r) => [joined(arc(0, -0.25, 0.25 * r, 0.25, -155, 90), arc(0, 0.24, 0.28 * r, 0.26, -90, 150))],
    (r) => [joined(line([-0.26, -0.5], [0.26, -0.5], [-0.04, -0.06]), arc(0, 0.23, 0.28 * r, 0.27, -100, 150))],
    (r) => [joined(arc(0, -0.25, 0.24 * r, 0.25, -160, 80), line([-0.08, 0]), arc(0, 0.24, 0.27 * r, 0.26, -80, 150))],
  ],
  // 4
  [
    () => [line([-0.06, -0.5], [-0.3, 0.14], [0.3, 0.14]), line([0.16, -0.3], [0.16, 0.5])],
    () => [line([0.16, 0.5], [0.16, -0.5], [-0.3, 0.14], [0.32, 0.14])],
    () => [line([-0.2, -0.5], [-0.24, 0.08], [0.3, 0.08]), line([0.16, -0.5], [0.16, 0.5])],
  ],
  // 5
  [
    (r) => [
      joined(line([-0.18, -0.5], [-0.22, -0.04]), arc(0, 0.2, 0.28 * r, 0.29, -145, 150)),
      line([-0.18, -0.5], [0.26, -0.5]),
    ],
    (r) => [joined(line([0.26, -0.5], [-0.18, -0.5], [-0.22, -0.04]), arc(0, 0.2, 0.28 * r, 0.29, -145, 150))],
    (r) => [
      joined(line([-0.2, -0.5], [-0.24, -0.02]), arc(0, 0.22, 0.27 * r, 0.27, -150, 135)),
      line([-0.2, -0.5], [0.24, -0.44]),
    ],
  ],
  // 6
  [
    (r) => [
      joined(
        bezier(p(0.22, -0.48), p(-0.12, -0.38), p(-0.28, -0.05), p(-0.26, 0.22)),
        arc(0, 0.22, 0.26 * r, 0.26, 180, -175),
      ),
    ],
    (r) => [joined(line([0.12, -0.5], [-0.22, 0.12]), arc(0, 0.24, 0.25 * r, 0.25, 200, -160))],
  ],
  // 7
  [
    () => [line([-0.28, -0.5], [0.28, -0.5], [-0.08, 0.5])],
    () => [line([-0.28, -0.5], [0.28, -0.5], [-0.08, 0.5]), line([-0.14, 0.02], [0.24, 0.02])],
    () => [line([-0.28, -0.36], [-0.28, -0.5], [0.28, -0.5], [-0.06, 0.5])],
    () => [
      joined(line([-0.28, -0.5], [0.28, -0.5]), bezier(p(0.28, -0.5), p(0.1, -0.2), p(-0.02, 0.1), p(-0.04, 0.5))),
    ],
  ],
  // 8
  [
    (r) => [arc(0, -0.26, 0.21 * r, 0.24, 0, 360), arc(0, 0.24, 0.27 * r, 0.26, -90, 270)],
    (r) => [
      Array.from({ length: 49 }, (_, k) => {
        const t = (2 * Math.PI * k) / 48;
        const wide = t > Math.PI / 2 && t < (3 * Math.PI) / 2 ? 0.27 : 0.21;
        return p(-wide * r * Math.sin(2 * t), -0.48 * Math.cos(t));
      }),
    ],
  ],
  // 9
  [
    (r) => [joined(arc(0, -0.25, 0.25 * r, 0.24, 0, -360), line([0.25, -0.25], [0.22, 0.5]))],
    (r) => [
      joined(arc(0, -0.25, 0.25 * r, 0.24, 10, -350), bezier(p(0.25, -0.2), p(0.26, 0.2), p(0.12, 0.5), p(-0.2, 0.44))),
    ],
    (r) => [arc(0, -0.26, 0.24 * r, 0.23, 0, -365), line([0.24, -0.34], [0.1, 0.5])],
  ],
];

// ---------------------------------------------------------------------------- writers

interface WriterStyle {
  id: number;
  /** Which form of each digit this writer uses (an index into that digit's forms). */
  forms: number[];
  /** Shear: the top leans right by this share of the height (negative: left). */
  slant: number;
  /** Width of the digits relative to the skeleton's. */
  width: number;
  /** Roundness of loops. */
  round: number;
  /** How far a sample's skeleton is warped, in digit heights. */
  wander: number;
  /** Where they write: the page's pad, or paper photographed or scanned. */
  medium: 'pad' | 'paper';
  /** Pen width as a share of the digit's height. */
  pen: number;
}

/** A writer's style, from the writer's own stream. */
function writerStyle(id: number, rng: Rng): WriterStyle {
  return {
    id,
    forms: FORMS.map((forms) => rng.int(forms.length)),
    slant: Math.max(-0.35, Math.min(0.45, 0.05 + 0.18 * rng.normal())),
    width: 0.7 + 0.45 * rng.next(),
    round: 0.8 + 0.4 * rng.next(),
    wander: 0.015 + 0.035 * rng.next(),
    medium: rng.next() < 0.6 ? 'pad' : 'paper',
    pen: 0.06 + 0.1 * rng.next(),
  };
}

/** A smooth random warp of the unit box: a few low-frequency waves with random phases. */
function smoothWarp(rng: Rng, amount: number): (q: Point) => Point {
  const waves = Array.from({ length: 3 }, () => ({
    fx: 1 + 2 * rng.next(),
    fy: 1 + 2 * rng.next(),
    px: 2 * Math.PI * rng.next(),
    py: 2 * Math.PI * rng.next(),
    ax: amount * rng.normal(),
    ay: amount * rng.normal(),
  }));
  return (q) => {
    let dx = 0;
    let dy = 0;
    for (const w of waves) {
      dx += w.ax * Math.sin(w.fx * Math.PI * q.y + w.px);
      dy += w.ay * Math.sin(w.fy * Math.PI * q.x + w.py);
    }
    return { x: q.x + dx, y: q.y + dy };
  };
}

/** Points every ~step along a polyline, each moved a little along a slowly changing tremor. */
function tremble(points: Point[], step: number, amount: number, rng: Rng): Point[] {
  const out: Point[] = [];
  let tx = 0;
  let ty = 0;
  for (let k = 0; k < points.length; k++) {
    const a = points[k];
    const b = points[k + 1] ?? a;
    const n = Math.max(1, Math.ceil(Math.hypot(b.x - a.x, b.y - a.y) / step));
    for (let s = 0; s < (k + 1 < points.length ? n : 1); s++) {
      tx = 0.85 * tx + amount * rng.normal();
      ty = 0.85 * ty + amount * rng.normal();
      out.push({ x: a.x + ((b.x - a.x) * s) / n + tx, y: a.y + ((b.y - a.y) * s) / n + ty });
    }
  }
  return out;
}

/** One picture of `digit` by `writer`, as the page's pad or a photo of paper would give it. */
function drawWriterDigit(writer: WriterStyle, digit: number, rng: Rng): RawImage {
  const forms = FORMS[digit];
  // Now and then a writer writes a digit another way than usual.
  const form = forms[rng.next() < 0.1 ? rng.int(forms.length) : writer.forms[digit]];
  const warp = smoothWarp(rng, writer.wander);
  const angle = (4 * rng.normal() * Math.PI) / 180;
  const [cos, sin] = [Math.cos(angle), Math.sin(angle)];
  const slant = writer.slant + 0.05 * rng.normal();
  const width = writer.width * (1 + 0.06 * rng.normal());
  const skeleton = form(writer.round * (1 + 0.05 * rng.normal())).map((stroke) =>
    stroke.map((q) => {
      const w = warp(q);
      const x = w.x * width - slant * w.y;
      return { x: x * cos - w.y * sin, y: x * sin + w.y * cos };
    }),
  );

  const pad = writer.medium === 'pad';
  const sheet = pad ? { width: 280, height: 280 } : { width: 100 + rng.int(300), height: 100 + rng.int(300) };
  const side = Math.min(sheet.width, sheet.height);
  const height = side * (pad ? 0.45 + 0.35 * rng.next() : 0.35 + 0.4 * rng.next());
  const centre = {
    x: sheet.width / 2 + (rng.next() - 0.5) * (sheet.width - height),
    y: sheet.height / 2 + (rng.next() - 0.5) * (sheet.height - height),
  };
  const pen = Math.max(1, height * writer.pen * (1 + 0.1 * rng.normal()));
  const canvas = new InkCanvas(sheet.width, sheet.height);
  for (const stroke of skeleton) {
    const placed = stroke.map((q) => ({ x: centre.x + q.x * height, y: centre.y + q.y * height }));
    canvas.stroke(tremble(placed, Math.max(1, pen / 2), height * 0.002, rng), pen);
  }
  if (!pad) return onPaper(canvas, randomPaperStyle(rng, { invertedShare: 0.1 }), rng);
  // The pad: white ink on an opaque black canvas, read back as RGBA (as the page does).
  const data = new Uint8Array(canvas.ink.length * 4);
  canvas.ink.forEach((c, i) => {
    const v = Math.round(255 * c);
    data.set([v, v, v, 255], i * 4);
  });
  return { data, width: sheet.width, height: sheet.height, channels: 4 };
}

export interface WriterSample {
  writer: number;
  label: number;
  /** What the pipeline made of the picture: the 28x28 bytes the model sees. */
  pixels: Uint8Array;
  /** The picture itself (drawn on the pad or photographed paper). */
  picture: RawImage;
  /** Set when preprocessing refused the picture itself ('too small'...). */
  reason?: string;
}

export interface PopulationOptions {
  /** Seed of the population: other seeds give other writers. */
  seed: number;
  writers: number;
  /** Samples of each digit by each writer. */
  perDigit: number;
  spec?: PreprocessSpec;
  /** Keep the pictures (for writing them as files); default false (only the 28x28 bytes). */
  keepPictures?: boolean;
}

/** Every writer of a population (writer k's style from its own stream). */
function populationWriters(seed: number, writers: number): WriterStyle[] {
  return Array.from({ length: writers }, (_, id) => writerStyle(id, createRng(deriveSeed(seed, 0x3717, id))));
}

/**
 * Writers' digits: for each writer, `perDigit` samples of each digit, each drawn from its own
 * stream (writer, digit, n), in the order writer, digit, n.
 */
export function writerPopulation(options: PopulationOptions): WriterSample[] {
  const spec = options.spec ?? PREPROCESS_SPEC;
  const samples: WriterSample[] = [];
  for (const writer of populationWriters(options.seed, options.writers)) {
    for (let digit = 0; digit < 10; digit++) {
      for (let n = 0; n < options.perDigit; n++) {
        const picture = drawWriterDigit(
          writer,
          digit,
          createRng(deriveSeed(options.seed, 0x5a3e, writer.id, digit, n)),
        );
        const { pixels, reason } = preprocessImage(picture, { spec });
        const empty = { data: new Uint8Array(0), width: 0, height: 0, channels: 1 } as const;
        samples.push({
          writer: writer.id,
          label: digit,
          pixels,
          picture: options.keepPictures ? picture : empty,
          ...(reason ? { reason } : {}),
        });
      }
    }
  }
  return samples;
}

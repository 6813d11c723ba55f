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
import { catmullRom, drawHandDigit, drawHandRoundLetter, handPlacement, handRoundLetters } from './hand-glyphs.js';
import { InkCanvas, onPaper, randomPaperStyle, type Point } from './ink-canvas.js';
import { preprocessImage, type NotADigitReason, type RawImage } from './preprocess.js';

/**
 * The kinds of non-digit. The last six are made of parts that digits share, which the model must
 * learn are still no digit: zigzags (strokes back and forth down the sheet), spirals, loops joined
 * into chains, digits crossed out, two digits drawn over each other, and open round letters.
 * (New kinds go at the end: a category's place seeds its pictures, `nonDigitRng`.)
 */
export const NON_DIGIT_CATEGORIES = [
  'blank',
  'dot',
  'noise',
  'scribble',
  'hatching',
  'letter',
  'shape',
  'strokes',
  'zigzag',
  'spiral',
  'loops',
  'crossed-out',
  'overlap',
  'round-letter',
] as const;
export type NonDigitCategory = (typeof NON_DIGIT_CATEGORIES)[number];

export const NON_DIGIT_SPLITS = ['train', 'test'] as const;
export type NonDigitSplit = (typeof NON_DIGIT_SPLITS)[number];

/** Letters and signs that no person reads as a digit (the `letter` category). */
export const NON_DIGIT_LETTERS = 'aehkmnruvwxyAEHKMNRUVWXY#@%*';

/**
 * Open round letters, printed (`round-letter`; hand-drawn ones are hand-glyphs.ts'): the shapes
 * closest to a 0, 6 or 9 that a person still reads as a letter. A printed C or c was read as 0.
 */
export const ROUND_LETTERS = 'CcGUunr';

/**
 * Letters a person may read as a digit, so never drawn as non-digits: O o Q D (0), I l i j J T t
 * (1 or 7), Z z (2), S s (5), b (6), B (8), q g (9). Kept here so that tests and docs name the
 * one list.
 */
export const DIGIT_LIKE_LETTERS = 'OoQDIlijJTtZzSsbBqg';

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
  await DRAW[category](canvas, rng, pen, split);
  if (category === 'letter') canvas.add(await renderLetters(width, height, rng, split));
  return canvas;
}

type Draw = (canvas: InkCanvas, rng: Rng, pen: number, split: NonDigitSplit) => void | Promise<void>;

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
      if (
        next.x < 0.1 * canvas.width ||
        next.x > 0.9 * canvas.width ||
        next.y < 0.1 * canvas.height ||
        next.y > 0.9 * canvas.height
      ) {
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
    const angles =
      kind === 2
        ? [0, Math.PI / 2]
        : kind === 1
          ? [rng.next() * Math.PI, rng.next() * Math.PI]
          : [rng.next() * Math.PI];
    const box = randomBox(canvas, rng, 0.4);
    for (const angle of angles) {
      const lines = 4 + rng.int(10);
      const [c, s] = [Math.cos(angle), Math.sin(angle)];
      const half = Math.hypot(box.w, box.h) / 2;
      for (let k = 0; k < lines; k++) {
        const offset = (k / (lines - 1) - 0.5) * Math.min(box.w, box.h);
        const mid = { x: box.cx - s * offset, y: box.cy + c * offset };
        canvas.stroke(
          clipToBox(
            [
              { x: mid.x - c * half, y: mid.y - s * half },
              { x: mid.x + c * half, y: mid.y + s * half },
            ],
            box,
          ),
          pen * 0.7,
        );
      }
    }
  },
  letter: () => undefined, // rendered from a font in drawNonDigit
  shape: (canvas, rng, pen, split) => {
    const shapes =
      split === 'train' ? [...SHARED_SHAPES, ...TRAIN_ONLY_SHAPES] : [...SHARED_SHAPES, ...TEST_ONLY_SHAPES];
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
  zigzag: (canvas, rng, pen, split) => {
    // Four to nine strokes back and forth: down the sheet, across it, or rounded into a wave; in
    // the test split also turned at an angle or with uneven swings (a seismograph's trace).
    const kind = rng.int(split === 'train' ? 3 : 5);
    const box = randomBox(canvas, rng, 0.45);
    const strokes = 4 + rng.int(6);
    const jitter = () => 0.06 * (rng.next() - 0.5);
    const points: Point[] = [];
    for (let k = 0; k <= strokes; k++) {
      const side = k % 2 === 0 ? -0.5 : 0.5;
      const along = k / strokes - 0.5;
      const swing = kind === 4 ? side * (0.2 + 0.8 * rng.next()) : side + jitter();
      // Across (x) and along (y) the box; kind 1 swaps them: up and down, stepping right.
      const [u, v] = kind === 1 ? [along + jitter(), swing] : [swing, along + jitter()];
      points.push({ x: box.cx + u * box.w, y: box.cy + v * box.h });
    }
    const turned =
      kind === 3
        ? rotateAbout(
            points,
            { x: box.cx, y: box.cy },
            (Math.PI / 180) * (20 + 50 * rng.next()) * (rng.next() < 0.5 ? -1 : 1),
          )
        : points;
    canvas.stroke(kind === 2 ? catmullRom(turned) : wobble(turned, rng, pen * 0.2), pen);
  },
  spiral: (canvas, rng, pen, split) => {
    // Two to four turns, from the middle out (or the other way round, which draws the same);
    // the test split also has square spirals and spirals that end in a long tail.
    const kind = split === 'train' ? 0 : rng.int(3);
    const { c, r } = placement(canvas, rng);
    const turns = 2 + 2 * rng.next();
    const aspect = 0.7 + 0.6 * rng.next();
    const phase = rng.next() * 2 * Math.PI;
    const direction = rng.next() < 0.5 ? -1 : 1;
    const stepsPerTurn = kind === 1 ? 4 : 28;
    const steps = Math.round(turns * stepsPerTurn);
    const points = Array.from({ length: steps + 1 }, (_, k) => {
      const t = k / steps;
      const a = phase + direction * 2 * Math.PI * turns * t;
      const radius = r * (0.08 + 0.92 * t);
      return { x: c.x + radius * Math.cos(a) * aspect, y: c.y + radius * Math.sin(a) };
    });
    // A pen as wide as the gap between turns fills the spiral into a dot.
    const spiralPen = Math.max(1, Math.min(pen, (0.9 * r) / turns / 3));
    if (kind === 2) {
      const last = points[points.length - 1];
      const a = rng.next() * 2 * Math.PI;
      points.push({ x: last.x + r * Math.cos(a), y: last.y + r * Math.sin(a) });
    }
    canvas.stroke(wobble(points, rng, spiralPen * 0.15), spiralPen);
  },
  loops: (canvas, rng, pen, split) => {
    // Loops joined into a chain: a cursive "llll" (a prolate cycloid), or rings joined by
    // strokes, never two rings stacked (an 8); the test split also chains loops down the sheet.
    const kind = rng.int(split === 'train' ? 2 : 3);
    const box = randomBox(canvas, rng, 0.5);
    if (kind === 1) {
      const rings = 3 + rng.int(3);
      const r = Math.min(box.w / (2.6 * rings), box.h / 3);
      let previous: { centre: Point; radius: number } | undefined;
      for (let k = 0; k < rings; k++) {
        const centre = {
          x: box.cx + (k / (rings - 1) - 0.5) * (box.w - 2 * r),
          y: box.cy + (rng.next() - 0.5) * (box.h - 2 * r),
        };
        const radius = r * (0.7 + 0.3 * rng.next());
        canvas.stroke(wobble(close(regular(centre, radius, 16, rng.next() * 2 * Math.PI)), rng, pen * 0.1), pen);
        // A stroke between the two rings, from rim to rim.
        if (previous) {
          const gap = Math.hypot(centre.x - previous.centre.x, centre.y - previous.centre.y);
          canvas.stroke(
            [lerp(previous.centre, centre, previous.radius / gap), lerp(centre, previous.centre, radius / gap)],
            pen,
          );
        }
        previous = { centre, radius };
      }
      return;
    }
    const down = kind === 2;
    // (Down the sheet at least four: two or three loops one above the other come near an 8.)
    const loops = down ? 4 + rng.int(3) : 3 + rng.int(4);
    const reach = 1.6 + 1.4 * rng.next();
    const steps = loops * 20;
    const points = Array.from({ length: steps + 1 }, (_, k) => {
      const t = (2 * Math.PI * loops * k) / steps;
      return { u: t - reach * Math.sin(t), v: -Math.cos(t) };
    });
    const length = 2 * Math.PI * loops;
    const curve = points.map(({ u, v }) => {
      const along = u / length - 0.5;
      const across = v * 0.5 * (down ? box.w : box.h);
      return down
        ? { x: box.cx + across, y: box.cy + along * box.h }
        : { x: box.cx + along * box.w, y: box.cy + across };
    });
    canvas.stroke(wobble(curve, rng, pen * 0.1), pen);
  },
  'crossed-out': async (canvas, rng, pen, split) => {
    // A digit, then struck out: an X over it, scribbled over back and forth, or two to four strokes
    // across it (one alone is no crossing-out: a 7 or a 0 may carry a bar); the test split also
    // puts a ring and bar over it (a prohibition sign) or cross-hatches it.
    const glyph = await drawDigitGlyph(canvas, rng, pen, split, rng.int(10));
    const kind = rng.int(split === 'train' ? 3 : 5);
    const over = {
      cx: glyph.cx,
      cy: glyph.cy,
      w: glyph.w * (1.1 + 0.3 * rng.next()),
      h: glyph.h * (1.1 + 0.2 * rng.next()),
    };
    const corner = (sx: number, sy: number) => ({ x: over.cx + (sx * over.w) / 2, y: over.cy + (sy * over.h) / 2 });
    if (kind === 0) {
      canvas.stroke(wobble([corner(-1, -1), corner(1, 1)], rng, pen * 0.2), pen);
      canvas.stroke(wobble([corner(1, -1), corner(-1, 1)], rng, pen * 0.2), pen);
    } else if (kind === 1) {
      const strokes = 6 + rng.int(9);
      const points = Array.from({ length: strokes + 1 }, (_, k) => ({
        x: over.cx + (k % 2 ? 0.5 : -0.5) * over.w,
        y: over.cy + (k / strokes - 0.5) * over.h,
      }));
      canvas.stroke(
        wobble(rotateAbout(points, { x: over.cx, y: over.cy }, 0.8 * (rng.next() - 0.5)), rng, pen * 0.2),
        pen,
      );
    } else if (kind === 2) {
      const strikes = 2 + rng.int(3);
      const angle = 0.6 * (rng.next() - 0.5);
      for (let k = 0; k < strikes; k++) {
        const y = over.cy + (strikes === 1 ? 0 : (k / (strikes - 1) - 0.5) * over.h * 0.6);
        canvas.stroke(
          wobble(
            rotateAbout(
              [
                { x: over.cx - over.w / 2, y },
                { x: over.cx + over.w / 2, y },
              ],
              { x: over.cx, y: over.cy },
              angle,
            ),
            rng,
            pen * 0.2,
          ),
          pen,
        );
      }
    } else if (kind === 3) {
      const ring = Math.max(over.w, over.h) / 2;
      canvas.stroke(close(regular({ x: over.cx, y: over.cy }, ring, 32, 0)), pen);
      const bar = ring * Math.SQRT1_2;
      canvas.stroke(
        [
          { x: over.cx - bar, y: over.cy - bar },
          { x: over.cx + bar, y: over.cy + bar },
        ],
        pen,
      );
    } else {
      for (const angle of [Math.PI / 4, -Math.PI / 4]) {
        for (let k = 0; k < 5; k++) {
          const offset = (k / 4 - 0.5) * over.h;
          const line = [
            { x: over.cx - over.w / 2, y: over.cy + offset },
            { x: over.cx + over.w / 2, y: over.cy + offset },
          ];
          canvas.stroke(rotateAbout(line, { x: over.cx, y: over.cy }, angle), pen * 0.7);
        }
      }
    }
  },
  overlap: async (canvas, rng, pen, split) => {
    // Two different digits (never a 1, which crossing another reads as that other one with a
    // stroke) drawn over each other, shifted by a third to three fifths of their width; the test
    // split sometimes draws three.
    const digits = [0, 2, 3, 4, 5, 6, 7, 8, 9];
    const first = digits[rng.int(digits.length)];
    const others = digits.filter((d) => d !== first);
    // Both in one hand, or both printed in one font: a bold printed digit over a thin drawn one
    // reads as the printed one alone.
    const style = { hand: rng.next() < 0.6, font: NON_DIGIT_FONTS[split][rng.int(NON_DIGIT_FONTS[split].length)] };
    const glyph = await drawDigitGlyph(canvas, rng, pen, split, first, undefined, style);
    const count = split === 'test' && rng.next() < 0.3 ? 2 : 1;
    for (let k = 0; k < count; k++) {
      const shift = (0.33 + 0.27 * rng.next()) * (rng.next() < 0.5 ? -1 : 1) * (k + 1);
      const scale = 0.8 + 0.4 * rng.next();
      const centre = { x: glyph.cx + shift * glyph.w, y: glyph.cy + 0.25 * (rng.next() - 0.5) * glyph.h };
      await drawDigitGlyph(
        canvas,
        rng,
        pen,
        split,
        others[rng.int(others.length)],
        { centre, height: glyph.h * scale },
        style,
      );
    }
  },
  'round-letter': async (canvas, rng, pen, split) => {
    // An open round letter: printed (the split's fonts), or drawn by hand.
    if (rng.next() < 0.6) {
      const letter = ROUND_LETTERS[rng.int(ROUND_LETTERS.length)];
      canvas.add(await renderGlyphText(canvas, rng, split, letter, glyphBox(canvas, rng)));
      return;
    }
    const letters = handRoundLetters(split);
    const box = glyphBox(canvas, rng);
    drawHandRoundLetter(
      canvas,
      letters[rng.int(letters.length)],
      handPlacement(rng, { x: box.cx - box.w / 2, y: box.cy - box.h / 2, w: box.w, h: box.h }),
      rng,
      pen,
    );
  },
};

/** A glyph's box on the sheet: near the middle, 45-80% of the shorter side tall, a little narrower. */
function glyphBox(canvas: InkCanvas, rng: Rng): { cx: number; cy: number; w: number; h: number } {
  const side = Math.min(canvas.width, canvas.height);
  const h = side * (0.45 + 0.35 * rng.next());
  const w = h * (0.55 + 0.3 * rng.next());
  return {
    cx: canvas.width / 2 + (rng.next() - 0.5) * (canvas.width - w) * 0.5,
    cy: canvas.height / 2 + (rng.next() - 0.5) * (canvas.height - h) * 0.5,
    w,
    h,
  };
}

/**
 * A digit on the sheet, drawn by hand (60% of the time) or printed in one of the split's fonts,
 * unless `style` says which; its box (where the ink is) comes back, so that it can be crossed out
 * or overlapped.
 */
async function drawDigitGlyph(
  canvas: InkCanvas,
  rng: Rng,
  pen: number,
  split: NonDigitSplit,
  digit: number,
  at?: { centre: Point; height: number },
  style?: { hand: boolean; font: (typeof NON_DIGIT_FONTS)[NonDigitSplit][number] },
): Promise<{ cx: number; cy: number; w: number; h: number }> {
  const box = glyphBox(canvas, rng);
  if (at) {
    box.w *= at.height / box.h;
    box.h = at.height;
    box.cx = at.centre.x;
    box.cy = at.centre.y;
  }
  if (style ? style.hand : rng.next() < 0.6) {
    drawHandDigit(
      canvas,
      digit,
      handPlacement(rng, { x: box.cx - box.w / 2, y: box.cy - box.h / 2, w: box.w, h: box.h }),
      rng,
      pen,
    );
    return box;
  }
  const coverage = await renderGlyphText(canvas, rng, split, String(digit), box, style?.font);
  canvas.add(coverage);
  return inkBox(coverage, canvas.width, canvas.height) ?? box;
}

/** One glyph of text from the split's fonts, filling about the box's height, as ink coverage. */
function renderGlyphText(
  canvas: InkCanvas,
  rng: Rng,
  split: NonDigitSplit,
  text: string,
  box: { cx: number; cy: number; w: number; h: number },
  font = NON_DIGIT_FONTS[split][rng.int(NON_DIGIT_FONTS[split].length)],
): Promise<Float32Array> {
  const size = box.h * 1.35;
  return renderSvgText(canvas.width, canvas.height, {
    text,
    font,
    size,
    x: box.cx,
    y: box.cy + 0.36 * size,
    rotate: 20 * (rng.next() - 0.5),
  });
}

/** The box around the ink (coverage > 0.3), or undefined for none. */
function inkBox(
  coverage: Float32Array,
  width: number,
  height: number,
): { cx: number; cy: number; w: number; h: number } | undefined {
  let [x0, y0, x1, y1] = [width, height, -1, -1];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (coverage[y * width + x] <= 0.3) continue;
      x0 = Math.min(x0, x);
      x1 = Math.max(x1, x);
      y0 = Math.min(y0, y);
      y1 = Math.max(y1, y);
    }
  }
  return x1 < 0 ? undefined : { cx: (x0 + x1 + 1) / 2, cy: (y0 + y1 + 1) / 2, w: x1 - x0 + 1, h: y1 - y0 + 1 };
}

function rotateAbout(points: Point[], c: Point, angle: number): Point[] {
  const [cos, sin] = [Math.cos(angle), Math.sin(angle)];
  return points.map((p) => ({
    x: c.x + (p.x - c.x) * cos - (p.y - c.y) * sin,
    y: c.y + (p.x - c.x) * sin + (p.y - c.y) * cos,
  }));
}

type Shape = (canvas: InkCanvas, rng: Rng, pen: number) => void;

/** Shapes of both splits: centred-ish, filling 30-80% of the sheet, hand-drawn wobble, outline or filled. */
const SHARED_SHAPES: Shape[] = [
  // star
  (canvas, rng, pen) => {
    const { c, r } = placement(canvas, rng);
    const points = 5 + rng.int(4);
    const star = regular(c, r, points * 2, rng.next() * Math.PI).map((p, k) =>
      k % 2 ? lerp(c, p, 0.35 + 0.15 * rng.next()) : p,
    );
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
    const box = regular(c, r, 4, Math.PI / 4 + 0.3 * (rng.next() - 0.5)).map((p) => ({
      x: p.x,
      y: c.y + (p.y - c.y) * (0.5 + 0.5 * rng.next()),
    }));
    outlineOrFill(canvas, rng, box, pen);
  },
  // heart
  (canvas, rng, pen) => {
    const { c, r } = placement(canvas, rng);
    const heart = Array.from({ length: 48 }, (_, k) => {
      const t = (2 * Math.PI * k) / 48;
      return {
        x: c.x + (r * 16 * Math.sin(t) ** 3) / 17,
        y: c.y - (r * (13 * Math.cos(t) - 5 * Math.cos(2 * t) - 2 * Math.cos(3 * t) - Math.cos(4 * t))) / 17,
      };
    });
    outlineOrFill(canvas, rng, heart, pen);
  },
  // a hash sign drawn by hand
  (canvas, rng, pen) => {
    const { c, r } = placement(canvas, rng);
    for (const d of [-0.35, 0.35]) {
      canvas.stroke(
        wobble(
          [
            { x: c.x + d * r + 0.2 * r, y: c.y - r },
            { x: c.x + d * r - 0.2 * r, y: c.y + r },
          ],
          rng,
          pen * 0.2,
        ),
        pen,
      );
      canvas.stroke(
        wobble(
          [
            { x: c.x - r, y: c.y + d * r },
            { x: c.x + r, y: c.y + d * r },
          ],
          rng,
          pen * 0.2,
        ),
        pen,
      );
    }
  },
];

/**
 * Shapes met only in the train split: more kinds of outline than the shared ones, so that what the
 * model learns is "a figure drawn with corners, or two of them, is no digit" rather than a list
 * of eight figures. (The test split keeps its own: its pictures are unchanged by these.)
 */
const TRAIN_ONLY_SHAPES: Shape[] = [
  // a quadrilateral of any kind, at any angle: rectangle, rhombus, kite, trapezium
  (canvas, rng, pen) => {
    const { c, r } = placement(canvas, rng);
    const turn = rng.next() * 2 * Math.PI;
    const corners = Array.from({ length: 4 }, (_, k) => {
      const a = turn + (Math.PI / 2) * k + 0.4 * (rng.next() - 0.5);
      const rr = r * (0.55 + 0.45 * rng.next());
      return { x: c.x + rr * Math.cos(a), y: c.y + rr * Math.sin(a) };
    });
    outlineOrFill(canvas, rng, corners, pen);
  },
  // a pentagon or a hexagon, squashed or not (more sides would be round: a 0)
  (canvas, rng, pen) => {
    const { c, r } = placement(canvas, rng);
    const squash = 0.6 + 0.4 * rng.next();
    const sides = regular(c, r, 5 + rng.int(2), rng.next() * 2 * Math.PI).map((p) => ({
      x: c.x + (p.x - c.x) * squash,
      y: p.y,
    }));
    outlineOrFill(canvas, rng, sides, pen);
  },
  // two shared shapes on one sheet, wherever they fall: apart, touching or one over the other
  (canvas, rng, pen) => {
    for (let k = 0; k < 2; k++) SHARED_SHAPES[rng.int(SHARED_SHAPES.length)](canvas, rng, pen);
  },
];

/** Shapes met only in the test split. */
const TEST_ONLY_SHAPES: Shape[] = [
  // a house
  (canvas, rng, pen) => {
    const { c, r } = placement(canvas, rng);
    const wall = [
      { x: c.x - 0.7 * r, y: c.y },
      { x: c.x - 0.7 * r, y: c.y + r },
      { x: c.x + 0.7 * r, y: c.y + r },
      { x: c.x + 0.7 * r, y: c.y },
    ];
    canvas.stroke(wobble(close(wall), rng, pen * 0.2), pen);
    canvas.stroke(
      wobble(
        [
          { x: c.x - 0.9 * r, y: c.y + 0.1 * r },
          { x: c.x, y: c.y - r },
          { x: c.x + 0.9 * r, y: c.y + 0.1 * r },
        ],
        rng,
        pen * 0.2,
      ),
      pen,
    );
  },
  // a circle with a plus through it
  (canvas, rng, pen) => {
    const { c, r } = placement(canvas, rng);
    canvas.stroke(close(regular(c, r * 0.8, 40, 0)), pen);
    canvas.stroke(
      [
        { x: c.x - r, y: c.y },
        { x: c.x + r, y: c.y },
      ],
      pen,
    );
    canvas.stroke(
      [
        { x: c.x, y: c.y - r },
        { x: c.x, y: c.y + r },
      ],
      pen,
    );
  },
  // a diamond
  (canvas, rng, pen) => {
    const { c, r } = placement(canvas, rng);
    outlineOrFill(
      canvas,
      rng,
      regular(c, r, 4, 0).map((p) => ({ x: c.x + (p.x - c.x) * 0.7, y: p.y })),
      pen,
    );
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
  /** Other counts for some categories (the training set draws more of the kinds most often answered). */
  perCategoryOf?: Partial<Record<NonDigitCategory, number>>;
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

/** A set of non-digits as the model sees them, `perCategory` of each category in turn (`perCategoryOf` for some). */
export async function nonDigitSet(options: NonDigitSetOptions): Promise<NonDigitSample[]> {
  const jobs = (options.categories ?? NON_DIGIT_CATEGORIES).flatMap((category) =>
    Array.from({ length: options.perCategoryOf?.[category] ?? options.perCategory }, (_, n) => ({ category, n })),
  );
  const threads =
    options.threads ?? Math.max(1, Math.min(2, availableParallelism(), Math.floor(jobs.length / PICTURES_PER_WORKER)));
  if (!Number.isInteger(threads) || threads < 1)
    throw new RangeError(`nonDigitSet: threads must be a whole number >= 1, got ${threads}`);
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
async function drawOnWorkers(
  work: Omit<NonDigitWork, 'jobs'>,
  jobs: NonDigitJob[],
  threads: number,
): Promise<NonDigitSample[]> {
  const workers: Worker[] = [];
  try {
    for (let k = 0; k < threads; k++) {
      workers.push(
        startModuleWorker(new URL('./non-digit-worker.js', import.meta.url), {
          ...work,
          jobs: jobs.filter((_, i) => i % threads === k),
        } satisfies NonDigitWork),
      );
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
    worker.once('exit', (code: number) =>
      reject(new Error(`a non-digit drawing thread ended (exit code ${code}) before it answered`)),
    );
    worker.once('message', (reply: NonDigitWorkReply) => {
      if (reply.type === 'done') resolve(reply.samples);
      else reject(new Error(`a non-digit drawing thread failed: ${reply.message}`));
    });
  });
}

// ---------------------------------------------------------------------------- letters

/** Letters (one, or a short word) from the split's fonts, as ink coverage 0..1 (sharp renders the SVG text). */
async function renderLetters(width: number, height: number, rng: Rng, split: NonDigitSplit): Promise<Float32Array> {
  const fonts = NON_DIGIT_FONTS[split];
  const font = fonts[rng.int(fonts.length)];
  const count = rng.next() < 0.8 ? 1 : 2 + rng.int(3);
  const text = Array.from({ length: count }, () => NON_DIGIT_LETTERS[rng.int(NON_DIGIT_LETTERS.length)]).join('');
  const size = (Math.min(width, height) * (0.4 + 0.5 * rng.next())) / Math.sqrt(count);
  const x = width * (0.35 + 0.3 * rng.next());
  const y = height * (0.4 + 0.3 * rng.next()) + 0.3 * size;
  const rotate = 30 * (rng.next() - 0.5);
  return renderSvgText(width, height, { text, font, size, x, y, rotate });
}

/** Text drawn by sharp (librsvg through fontconfig) from an SVG, as ink coverage 0..1 per pixel. */
async function renderSvgText(
  width: number,
  height: number,
  t: {
    text: string;
    font: { family: string; weight: string; style: string };
    size: number;
    x: number;
    y: number;
    rotate: number;
  },
): Promise<Float32Array> {
  const { default: sharp } = await import('sharp');
  const escaped = t.text.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const [x, y] = [t.x.toFixed(1), t.y.toFixed(1)];
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">` +
    `<text x="${x}" y="${y}" transform="rotate(${t.rotate.toFixed(1)} ${x} ${y})" font-family="${t.font.family}" font-weight="${t.font.weight}" font-style="${t.font.style}" font-size="${t.size.toFixed(1)}" fill="black" text-anchor="middle">${escaped}</text></svg>`;
  const { data, info } = await sharp(Buffer.from(svg)).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const coverage = new Float32Array(width * height);
  for (let i = 0; i < coverage.length && i * info.channels < data.length; i++)
    coverage[i] = data[i * info.channels + info.channels - 1] / 255;
  return coverage;
}

// ---------------------------------------------------------------------------- geometry

function randomPoint(canvas: InkCanvas, rng: Rng, margin: number): Point {
  return {
    x: canvas.width * (margin + (1 - 2 * margin) * rng.next()),
    y: canvas.height * (margin + (1 - 2 * margin) * rng.next()),
  };
}

/** Where a shape goes: near the middle, 30-80% of the shorter side across. */
function placement(canvas: InkCanvas, rng: Rng): { c: Point; r: number } {
  const side = Math.min(canvas.width, canvas.height);
  const r = side * (0.15 + 0.25 * rng.next());
  return {
    c: {
      x: canvas.width / 2 + (rng.next() - 0.5) * (canvas.width - 2 * r),
      y: canvas.height / 2 + (rng.next() - 0.5) * (canvas.height - 2 * r),
    },
    r,
  };
}

function randomBox(canvas: InkCanvas, rng: Rng, minShare: number): { cx: number; cy: number; w: number; h: number } {
  const w = canvas.width * (minShare + (0.9 - minShare) * rng.next());
  const h = canvas.height * (minShare + (0.9 - minShare) * rng.next());
  return {
    cx: canvas.width / 2 + (rng.next() - 0.5) * (canvas.width - w),
    cy: canvas.height / 2 + (rng.next() - 0.5) * (canvas.height - h),
    w,
    h,
  };
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
  return [
    { x: a.x + t0 * dx, y: a.y + t0 * dy },
    { x: a.x + t1 * dx, y: a.y + t1 * dy },
  ];
}

function regular(c: Point, r: number, n: number, phase: number): Point[] {
  return Array.from({ length: n }, (_, k) => ({
    x: c.x + r * Math.cos(phase + (2 * Math.PI * k) / n),
    y: c.y + r * Math.sin(phase + (2 * Math.PI * k) / n),
  }));
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
 * Pictures of each category in the training set of non-digits. 1,000 rather than the 500 of the
 * eight first categories: a scribble or a shape seen only a few tens of times over a run was
 * learnt as itself, and validation scribbles stayed the least refused (docs/trust.md). Two
 * threads (`threads` of nonDigitSet) draw them faster than one while other processes leave a core
 * mostly free, and no faster while they hold a whole core (Linux autogroup shares the CPU between
 * sessions, not threads).
 */
const NON_DIGIT_TRAIN_PER_CATEGORY = 1000;

/**
 * Kinds drawn more often than the others in the training set, by this factor: random walks and
 * shapes take many forms, a few of them close to a digit's, and they stayed the least refused
 * kinds on the test split with as many pictures as the others (docs/trust.md).
 */
const NON_DIGIT_TRAIN_WEIGHT: Partial<Record<NonDigitCategory, number>> = { scribble: 2, shape: 2, strokes: 2 };

/**
 * The non-digits a run trains on (`nonDigits` > 0): the train split drawn with the run's seed,
 * less those preprocessing already refuses (they never reach the model), as 28x28 bytes one after another.
 */
export async function nonDigitTrainingImages(
  seed: number,
  perCategory = NON_DIGIT_TRAIN_PER_CATEGORY,
): Promise<{ images: Uint8Array; count: number }> {
  const perCategoryOf = Object.fromEntries(
    Object.entries(NON_DIGIT_TRAIN_WEIGHT).map(([category, weight]) => [category, weight * perCategory]),
  );
  return packPixels((await nonDigitSet({ split: 'train', perCategory, perCategoryOf, seed })).filter((s) => !s.reason));
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
  const [{ default: sharp }, { mkdir }, path, { writeFileAtomic }] = await Promise.all([
    import('sharp'),
    import('node:fs/promises'),
    import('node:path'),
    import('../util/fs.js'),
  ]);
  const seed = options.seed ?? 1;
  let written = 0;
  for (const category of options.categories ?? NON_DIGIT_CATEGORIES) {
    await mkdir(path.join(dir, category), { recursive: true });
    for (let n = 0; n < options.perCategory; n++) {
      const picture = await drawNonDigit(category, options.split, nonDigitRng(options.split, seed, category, n));
      const png = await sharp(picture.data, {
        raw: { width: picture.width, height: picture.height, channels: picture.channels },
      })
        .png()
        .toBuffer();
      await writeFileAtomic(path.join(dir, category, `${String(n).padStart(4, '0')}.png`), png);
      written++;
    }
  }
  return written;
}

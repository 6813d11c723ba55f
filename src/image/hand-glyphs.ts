/**
 * Digits and open round letters as a hand draws them: a few strokes through control points in a
 * unit box, smoothed (Catmull-Rom) where a pen goes round and kept sharp at corners, then placed
 * on a canvas with the slant, lean, wobble and pen of one writer. The non-digit generator
 * (non-digits.ts) crosses these digits out, overlaps two of them and draws the letters; none of
 * them is ever labelled as the digit it shows.
 */
import type { Rng } from '../util/rng.js';
import type { InkCanvas, Point } from './ink-canvas.js';

/** One stroke of a glyph: points in the unit box (y down); `smooth` strokes are rounded through them. */
interface GlyphStroke {
  points: [number, number][];
  smooth?: boolean;
}

/** An ellipse through the unit box's middle, from angle a0 to a1 (radians, y down: π/2 is the bottom). */
function arc(cx: number, cy: number, rx: number, ry: number, a0: number, a1: number, steps = 14): [number, number][] {
  return Array.from({ length: steps + 1 }, (_, k) => {
    const a = a0 + ((a1 - a0) * k) / steps;
    return [cx + rx * Math.cos(a), cy + ry * Math.sin(a)];
  });
}

/** Each digit as strokes, roughly as a person writes it. */
const DIGIT_STROKES: GlyphStroke[][] = [
  [{ points: arc(0.5, 0.5, 0.36, 0.48, -Math.PI / 2, (3 * Math.PI) / 2, 20), smooth: true }],
  [
    {
      points: [
        [0.3, 0.22],
        [0.56, 0.02],
        [0.53, 0.98],
      ],
    },
  ],
  [
    {
      points: [
        [0.12, 0.26],
        [0.3, 0.05],
        [0.66, 0.03],
        [0.86, 0.24],
        [0.72, 0.52],
        [0.12, 0.97],
      ],
      smooth: true,
    },
    {
      points: [
        [0.12, 0.97],
        [0.9, 0.96],
      ],
    },
  ],
  [
    {
      points: [
        [0.14, 0.12],
        [0.5, 0.02],
        [0.83, 0.18],
        [0.7, 0.4],
        [0.4, 0.48],
        [0.76, 0.56],
        [0.88, 0.78],
        [0.55, 0.97],
        [0.12, 0.88],
      ],
      smooth: true,
    },
  ],
  [
    {
      points: [
        [0.62, 0.98],
        [0.62, 0.02],
        [0.08, 0.68],
        [0.92, 0.68],
      ],
    },
  ],
  [
    {
      points: [
        [0.86, 0.03],
        [0.25, 0.03],
        [0.2, 0.45],
      ],
    },
    {
      points: [
        [0.2, 0.45],
        [0.55, 0.37],
        [0.86, 0.6],
        [0.76, 0.9],
        [0.4, 0.98],
        [0.12, 0.86],
      ],
      smooth: true,
    },
  ],
  [
    {
      points: [
        [0.76, 0.04],
        [0.44, 0.2],
        [0.2, 0.56],
        [0.25, 0.9],
        [0.55, 0.98],
        [0.8, 0.78],
        [0.66, 0.55],
        [0.36, 0.55],
        [0.2, 0.7],
      ],
      smooth: true,
    },
  ],
  [
    {
      points: [
        [0.1, 0.05],
        [0.9, 0.05],
        [0.4, 0.98],
      ],
    },
  ],
  [
    {
      points: [
        [0.5, 0.48],
        [0.2, 0.28],
        [0.32, 0.04],
        [0.7, 0.05],
        [0.8, 0.28],
        [0.5, 0.48],
        [0.16, 0.72],
        [0.32, 0.97],
        [0.7, 0.97],
        [0.85, 0.72],
        [0.5, 0.48],
      ],
      smooth: true,
    },
  ],
  [
    {
      points: [
        [0.8, 0.3],
        [0.6, 0.04],
        [0.25, 0.1],
        [0.2, 0.36],
        [0.46, 0.5],
        [0.8, 0.3],
      ],
      smooth: true,
    },
    {
      points: [
        [0.8, 0.3],
        [0.74, 0.98],
      ],
    },
  ],
];

/**
 * Open round letters drawn by hand, none of which a person reads as a digit (the printed ones come
 * from fonts: non-digits.ts ROUND_LETTERS). A C's opening is wide (70-140°), so that it is no
 * 0 left open by a hurried pen. No G: drawn by hand, its bar closes it into a 6 (a validation G
 * was read as 6 at 99%, and a person could too); printed, its spur tells it apart.
 */
const ROUND_LETTER_STROKES: Record<string, (rng: Rng) => GlyphStroke[]> = {
  C: (rng) => {
    const open = ((70 + 70 * rng.next()) * Math.PI) / 180;
    return [{ points: arc(0.55, 0.5, 0.42, 0.48, open / 2, 2 * Math.PI - open / 2), smooth: true }];
  },
  c: (rng) => {
    const open = ((80 + 60 * rng.next()) * Math.PI) / 180;
    return [{ points: arc(0.55, 0.5, 0.45, 0.38, open / 2, 2 * Math.PI - open / 2), smooth: true }];
  },
  U: () => [
    {
      points: [
        [0.15, 0.02],
        [0.15, 0.62],
        [0.32, 0.95],
        [0.68, 0.95],
        [0.85, 0.62],
        [0.85, 0.02],
      ],
      smooth: true,
    },
  ],
  u: () => [
    {
      points: [
        [0.15, 0.05],
        [0.15, 0.62],
        [0.32, 0.95],
        [0.68, 0.95],
        [0.85, 0.62],
      ],
      smooth: true,
    },
    {
      points: [
        [0.85, 0.05],
        [0.85, 0.62],
        [0.86, 0.98],
      ],
    },
  ],
  n: () => [
    {
      points: [
        [0.15, 0.98],
        [0.15, 0.4],
        [0.15, 0.05],
      ],
    },
    {
      points: [
        [0.15, 0.4],
        [0.32, 0.06],
        [0.68, 0.06],
        [0.85, 0.38],
        [0.85, 0.98],
      ],
      smooth: true,
    },
  ],
};

/** Round letters drawn by hand in the test split only. */
const TEST_ONLY_ROUND_LETTER_STROKES: Record<string, (rng: Rng) => GlyphStroke[]> = {
  m: () => [
    {
      points: [
        [0.08, 0.98],
        [0.08, 0.35],
        [0.08, 0.1],
      ],
    },
    {
      points: [
        [0.08, 0.35],
        [0.22, 0.06],
        [0.42, 0.12],
        [0.5, 0.4],
        [0.5, 0.98],
      ],
      smooth: true,
    },
    {
      points: [
        [0.5, 0.4],
        [0.62, 0.08],
        [0.84, 0.12],
        [0.92, 0.4],
        [0.92, 0.98],
      ],
      smooth: true,
    },
  ],
  h: () => [
    {
      points: [
        [0.18, 0.0],
        [0.18, 0.6],
        [0.18, 0.98],
      ],
    },
    {
      points: [
        [0.18, 0.6],
        [0.35, 0.36],
        [0.7, 0.36],
        [0.85, 0.6],
        [0.85, 0.98],
      ],
      smooth: true,
    },
  ],
};

/** The hand-drawn round letters of a split. */
export function handRoundLetters(split: 'train' | 'test'): string[] {
  return split === 'train'
    ? Object.keys(ROUND_LETTER_STROKES)
    : [...Object.keys(ROUND_LETTER_STROKES), ...Object.keys(TEST_ONLY_ROUND_LETTER_STROKES)];
}

/** Where a glyph goes on the canvas: its box, and the hand that draws it. */
export interface GlyphPlacement {
  /** Top-left corner and size of the glyph's box, in canvas pixels. */
  x: number;
  y: number;
  w: number;
  h: number;
  /** Shear (x moves by slant × height above the box's middle), rotation in radians. */
  slant: number;
  rotation: number;
  /** How far each control point strays, as a share of the box's smaller side. */
  jitter: number;
}

/** A writer's random placement of a glyph in the box (x, y, w, h). */
export function handPlacement(rng: Rng, box: { x: number; y: number; w: number; h: number }): GlyphPlacement {
  return {
    ...box,
    slant: 0.35 * (rng.next() - 0.5),
    rotation: 0.25 * (rng.next() - 0.5),
    jitter: 0.015 + 0.03 * rng.next(),
  };
}

/** Draw digit d (0-9) by hand on the canvas. */
export function drawHandDigit(canvas: InkCanvas, digit: number, place: GlyphPlacement, rng: Rng, pen: number): void {
  drawGlyph(canvas, DIGIT_STROKES[digit], place, rng, pen);
}

/** Draw one of `handRoundLetters(split)` by hand on the canvas. */
export function drawHandRoundLetter(
  canvas: InkCanvas,
  letter: string,
  place: GlyphPlacement,
  rng: Rng,
  pen: number,
): void {
  const make = ROUND_LETTER_STROKES[letter] ?? TEST_ONLY_ROUND_LETTER_STROKES[letter];
  if (!make) throw new RangeError(`no hand-drawn round letter '${letter}'`);
  drawGlyph(canvas, make(rng), place, rng, pen);
}

function drawGlyph(canvas: InkCanvas, strokes: GlyphStroke[], place: GlyphPlacement, rng: Rng, pen: number): void {
  const side = Math.min(place.w, place.h);
  const cx = place.x + place.w / 2;
  const cy = place.y + place.h / 2;
  const [cos, sin] = [Math.cos(place.rotation), Math.sin(place.rotation)];
  // A point two strokes share (where a 9's stem leaves its loop) strays once, so that they still meet.
  const placed = new Map<string, Point>();
  const toCanvas = ([u, v]: [number, number]): Point => {
    const key = `${u},${v}`;
    const known = placed.get(key);
    if (known) return known;
    const x0 = (u - 0.5) * place.w + place.slant * (0.5 - v) * place.h + place.jitter * side * rng.normal();
    const y0 = (v - 0.5) * place.h + place.jitter * side * rng.normal();
    const point = { x: cx + x0 * cos - y0 * sin, y: cy + x0 * sin + y0 * cos };
    placed.set(key, point);
    return point;
  };
  for (const stroke of strokes) {
    if (stroke.points.length === 0) continue;
    const points = stroke.points.map(toCanvas);
    canvas.stroke(stroke.smooth ? catmullRom(points) : points, pen);
  }
}

/** A smooth curve through the points (centripetal-free uniform Catmull-Rom, 8 steps per span). */
export function catmullRom(points: Point[], steps = 8): Point[] {
  if (points.length < 3) return points;
  const at = (i: number) => points[Math.max(0, Math.min(points.length - 1, i))];
  const out: Point[] = [points[0]];
  for (let i = 0; i + 1 < points.length; i++) {
    const [p0, p1, p2, p3] = [at(i - 1), at(i), at(i + 1), at(i + 2)];
    for (let s = 1; s <= steps; s++) {
      const t = s / steps;
      const t2 = t * t;
      const t3 = t2 * t;
      const f = (a: number, b: number, c: number, d: number) =>
        0.5 * (2 * b + (c - a) * t + (2 * a - 5 * b + 4 * c - d) * t2 + (3 * b - a - 3 * c + d) * t3);
      out.push({ x: f(p0.x, p1.x, p2.x, p3.x), y: f(p0.y, p1.y, p2.y, p3.y) });
    }
  }
  return out;
}

/**
 * A canvas of ink coverage (0 = paper, 1 = full ink) with the few drawing primitives the
 * non-digit generator needs (anti-aliased strokes, dots, filled polygons), and `onPaper`, which
 * puts the ink on a sheet the way a phone photo or a scan sees it: lit unevenly, with noise,
 * dark ink on light paper or (sometimes) light on dark. Pure TypeScript, seeded by the caller's Rng.
 */
import type { Rng } from '../util/rng.js';
import type { RawImage } from './preprocess.js';

export interface Point {
  x: number;
  y: number;
}

export class InkCanvas {
  readonly ink: Float32Array;

  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.ink = new Float32Array(width * height);
  }

  /** A stroke along the polyline, `width` pixels wide, anti-aliased, round caps and joins. */
  stroke(points: Point[], width: number, strength = 1): void {
    if (points.length === 1) points = [points[0], points[0]];
    for (let k = 0; k + 1 < points.length; k++) this.segment(points[k], points[k + 1], width, strength);
  }

  /** A filled dot of radius r (an ellipse when ry differs). */
  dot(centre: Point, r: number, ry = r, strength = 1): void {
    const x0 = Math.max(0, Math.floor(centre.x - r - 1));
    const x1 = Math.min(this.width - 1, Math.ceil(centre.x + r + 1));
    const y0 = Math.max(0, Math.floor(centre.y - ry - 1));
    const y1 = Math.min(this.height - 1, Math.ceil(centre.y + ry + 1));
    const rr = Math.max(r, 0.3);
    const rry = Math.max(ry, 0.3);
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        const dx = (x + 0.5 - centre.x) / rr;
        const dy = (y + 0.5 - centre.y) / rry;
        // Distance to the rim in pixels (approximately), for a one-pixel anti-aliased edge.
        const d = (Math.sqrt(dx * dx + dy * dy) - 1) * Math.min(rr, rry);
        this.put(x, y, strength * clamp01(0.5 - d));
      }
    }
  }

  /** The inside of a polygon (even-odd), sampled 2x2 per pixel for smooth edges. */
  fill(polygon: Point[], strength = 1): void {
    const xs = polygon.map((p) => p.x);
    const ys = polygon.map((p) => p.y);
    const x0 = Math.max(0, Math.floor(Math.min(...xs)));
    const x1 = Math.min(this.width - 1, Math.ceil(Math.max(...xs)));
    const y0 = Math.max(0, Math.floor(Math.min(...ys)));
    const y1 = Math.min(this.height - 1, Math.ceil(Math.max(...ys)));
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        let inside = 0;
        for (const [sx, sy] of [
          [0.25, 0.25],
          [0.75, 0.25],
          [0.25, 0.75],
          [0.75, 0.75],
        ])
          if (insidePolygon(polygon, x + sx, y + sy)) inside++;
        if (inside > 0) this.put(x, y, (strength * inside) / 4);
      }
    }
  }

  /** Add coverage from another source (e.g. rendered text's alpha), 0..1 per pixel. */
  add(coverage: ArrayLike<number>): void {
    for (let i = 0; i < this.ink.length; i++) this.ink[i] = Math.max(this.ink[i], coverage[i]);
  }

  private segment(a: Point, b: Point, width: number, strength: number): void {
    const half = width / 2;
    const x0 = Math.max(0, Math.floor(Math.min(a.x, b.x) - half - 1));
    const x1 = Math.min(this.width - 1, Math.ceil(Math.max(a.x, b.x) + half + 1));
    const y0 = Math.max(0, Math.floor(Math.min(a.y, b.y) - half - 1));
    const y1 = Math.min(this.height - 1, Math.ceil(Math.max(a.y, b.y) + half + 1));
    const vx = b.x - a.x;
    const vy = b.y - a.y;
    const len2 = vx * vx + vy * vy;
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        const px = x + 0.5 - a.x;
        const py = y + 0.5 - a.y;
        const t = len2 === 0 ? 0 : Math.max(0, Math.min(1, (px * vx + py * vy) / len2));
        const d = Math.hypot(px - t * vx, py - t * vy);
        // At least a faint line for pens thinner than a pixel.
        this.put(x, y, strength * clamp01(half + 0.5 - d) * Math.min(1, Math.max(width, 0.5)));
      }
    }
  }

  private put(x: number, y: number, v: number): void {
    const i = y * this.width + x;
    if (v > this.ink[i]) this.ink[i] = v;
  }
}

function insidePolygon(polygon: Point[], x: number, y: number): boolean {
  let inside = false;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
    const a = polygon[i];
    const b = polygon[j];
    if (a.y > y !== b.y > y && x < ((b.x - a.x) * (y - a.y)) / (b.y - a.y) + a.x) inside = !inside;
  }
  return inside;
}

function clamp01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

export interface PaperStyle {
  /** Gray level of the paper (light) and of full ink (dark), 0..255, before light and inversion. */
  paper: number;
  inkLevel: number;
  /** The light falls from 1 to this factor across the sheet, along a random direction. */
  dark: number;
  /** Sensor noise, standard deviation in gray levels. */
  noise: number;
  /** Light ink on dark paper (a blackboard, a dark-mode canvas). */
  inverted: boolean;
}

/** A paper style: half clean (a drawing app, a scan), half photo-like. */
export function randomPaperStyle(rng: Rng, options: { invertedShare?: number } = {}): PaperStyle {
  const clean = rng.next() < 0.4;
  return {
    paper: clean ? 255 : 190 + rng.int(60),
    inkLevel: clean ? 0 : 10 + rng.int(80),
    dark: clean ? 1 : 0.45 + 0.55 * rng.next(),
    noise: clean ? 0 : rng.next() * 8,
    inverted: rng.next() < (options.invertedShare ?? 0.15),
  };
}

/** The ink put on paper: one gray channel, as a photo or scan of it would decode. */
export function onPaper(canvas: InkCanvas, style: PaperStyle, rng: Rng): RawImage {
  const { width, height, ink } = canvas;
  const angle = rng.next() * 2 * Math.PI;
  const dx = Math.cos(angle);
  const dy = Math.sin(angle);
  const data = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const t = 0.5 + 0.7 * ((x / width - 0.5) * dx + (y / height - 0.5) * dy);
      const light = style.dark + (1 - style.dark) * clamp01(t);
      const c = ink[y * width + x];
      let v = light * (style.paper * (1 - c) + style.inkLevel * c) + (style.noise > 0 ? style.noise * rng.normal() : 0);
      if (style.inverted) v = 255 - v;
      data[y * width + x] = v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
    }
  }
  return { data, width, height, channels: 1 };
}

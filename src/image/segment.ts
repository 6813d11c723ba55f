/**
 * Reading a number: one picture of several digits in a row → one Preprocessed per digit, left
 * to right. Pure TypeScript, like preprocess.ts, and built from the same steps.
 */
import { boxHeight, boxWidth, connectedComponents, type Component, type Plane } from './pixel-ops.js';
import {
  extractInk,
  isSpeck,
  placeInk,
  stageOf,
  type PreprocessOptions,
  type Preprocessed,
  type RawImage,
  type Stage,
} from './preprocess.js';
import { PREPROCESS_SPEC } from '../data/model-input.js';

const NUMBER_TUNING = {
  /** Components are found on ink above this level, so the faint halos of neighbours do not join them. */
  inkLevel: 64,
  /** Two groups whose x-ranges overlap by this share of the narrower one are one digit (a broken 5). */
  mergeOverlap: 0.5,
  /** Groups shorter than this share of the tallest group are specks, dots or dashes. */
  minHeightShare: 0.25,
  /** A group wider than this many times its height is digits touching each other. */
  maxAspect: 1.1,
  /** Width over height of a typical digit, to guess how many digits a touching group holds. */
  digitAspect: 0.6,
  /** A column with at most this share of a typical column's ink is a gap between touching digits. */
  valleyShare: 0.35,
} as const;

interface DigitBox {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface SegmentedNumber {
  digits: Preprocessed[];
  /** Where each digit was found, in the working-resolution plane of the `cleaned` stage. */
  boxes: DigitBox[];
  reason?: 'blank';
  stages?: Stage[];
}

interface Group {
  members: Component[];
  minX: number;
  maxX: number;
  minY: number;
  maxY: number;
  mass: number;
}

export function segmentNumber(image: RawImage, options: PreprocessOptions = {}): SegmentedNumber {
  const spec = options.spec ?? PREPROCESS_SPEC;
  const stages: Stage[] | undefined = options.keepStages ? [] : undefined;
  const ink = extractInk(image, stages);
  if (ink.blank) return { digits: [], boxes: [], reason: 'blank', stages };
  const plane = ink.plane;
  const { labels, components } = connectedComponents(plane, NUMBER_TUNING.inkLevel);
  const groups = dropSmallGroups(mergeOverlapping(components.filter((c) => !isSpeck(c, plane))));
  if (groups.length === 0) return { digits: [], boxes: [], reason: 'blank', stages };
  const boxes = groups.flatMap((g) => splitTouching(plane, labels, g));
  const digits = boxes.map((box) => placeInk(cutOut(plane, labels, box), spec));
  stages?.push(stageOf('digits', boxesOverlay(plane, boxes)));
  return { digits, boxes: boxes.map((b) => b.box), stages };
}

function groupOf(c: Component): Group {
  return { members: [c], minX: c.minX, maxX: c.maxX, minY: c.minY, maxY: c.maxY, mass: c.mass };
}

function join(a: Group, b: Group): Group {
  return {
    members: [...a.members, ...b.members],
    minX: Math.min(a.minX, b.minX),
    maxX: Math.max(a.maxX, b.maxX),
    minY: Math.min(a.minY, b.minY),
    maxY: Math.max(a.maxY, b.maxY),
    mass: a.mass + b.mass,
  };
}

/** Left to right; pieces stacked in the same columns are one digit. */
function mergeOverlapping(components: Component[]): Group[] {
  const sorted = components.map(groupOf).sort((a, b) => a.minX - b.minX);
  const merged: Group[] = [];
  for (const g of sorted) {
    const last = merged[merged.length - 1];
    if (last) {
      const overlap = Math.min(last.maxX, g.maxX) - Math.max(last.minX, g.minX) + 1;
      const narrower = Math.min(boxWidth(last), boxWidth(g));
      if (overlap >= NUMBER_TUNING.mergeOverlap * narrower) {
        merged[merged.length - 1] = join(last, g);
        continue;
      }
    }
    merged.push(g);
  }
  return merged;
}

function dropSmallGroups(groups: Group[]): Group[] {
  const tallest = Math.max(0, ...groups.map(boxHeight));
  return groups.filter((g) => boxHeight(g) >= NUMBER_TUNING.minHeightShare * tallest);
}

interface Piece {
  box: DigitBox;
  keep: Set<number>;
}

/**
 * Touching digits make one over-wide group. Guess how many digits it holds from its aspect
 * ratio, then cut near each expected boundary at the column with the least ink (where two
 * digits merely touch; where they overlap, the expected boundary itself is the best guess).
 */
function splitTouching(plane: Plane, labels: Int32Array, group: Group): Piece[] {
  const keep = new Set(group.members.map((c) => c.label));
  const box: DigitBox = { x: group.minX, y: group.minY, width: boxWidth(group), height: boxHeight(group) };
  if (box.width <= NUMBER_TUNING.maxAspect * box.height) return [{ box, keep }];
  const count = Math.max(2, Math.round(box.width / (NUMBER_TUNING.digitAspect * box.height)));
  const step = box.width / count;
  const cuts = [box.x];
  for (let j = 1; j < count; j++) {
    const expected = box.x + j * step;
    cuts.push(
      leastInkColumn(plane, labels, keep, box, Math.round(expected - step / 4), Math.round(expected + step / 4)),
    );
  }
  cuts.push(box.x + box.width);
  const pieces: Piece[] = [];
  for (let j = 0; j < count; j++) {
    pieces.push({ box: tighten(plane, labels, keep, { ...box, x: cuts[j], width: cuts[j + 1] - cuts[j] }), keep });
  }
  return pieces;
}

function columnInk(plane: Plane, labels: Int32Array, keep: Set<number>, box: DigitBox, x: number): number {
  let ink = 0;
  for (let y = box.y; y < box.y + box.height; y++) {
    const i = y * plane.width + x;
    if (keep.has(labels[i])) ink += plane.data[i];
  }
  return ink;
}

/**
 * The column of least ink in [from, to] when it is a real valley (digits that touch at a
 * point); otherwise (digits that overlap) the middle of the range, the expected boundary.
 */
function leastInkColumn(
  plane: Plane,
  labels: Int32Array,
  keep: Set<number>,
  box: DigitBox,
  from: number,
  to: number,
): number {
  const profile: number[] = [];
  for (let x = box.x; x < box.x + box.width; x++) profile.push(columnInk(plane, labels, keep, box, x));
  const typical = [...profile].sort((a, b) => a - b)[profile.length >> 1];
  const middle = Math.round((from + to) / 2);
  let best = middle;
  for (let x = Math.max(box.x, from); x <= Math.min(box.x + box.width - 1, to); x++) {
    if (profile[x - box.x] < profile[best - box.x]) best = x;
  }
  return profile[best - box.x] <= NUMBER_TUNING.valleyShare * typical ? best : middle;
}

/** Shrink a box vertically to the ink inside it (each half of a split has its own height). */
function tighten(plane: Plane, labels: Int32Array, keep: Set<number>, box: DigitBox): DigitBox {
  let top = box.y + box.height;
  let bottom = box.y - 1;
  for (let y = box.y; y < box.y + box.height; y++) {
    for (let x = box.x; x < box.x + box.width; x++) {
      if (keep.has(labels[y * plane.width + x])) {
        top = Math.min(top, y);
        bottom = Math.max(bottom, y);
      }
    }
  }
  return bottom < top ? box : { ...box, y: top, height: bottom - top + 1 };
}

/**
 * The ink of one digit: its box, widened by a pixel for the faint edge that lies under the
 * component threshold, with other digits' ink removed.
 */
function cutOut(plane: Plane, labels: Int32Array, piece: Piece): Plane {
  const x0 = Math.max(0, piece.box.x - 1);
  const y0 = Math.max(0, piece.box.y - 1);
  const x1 = Math.min(plane.width, piece.box.x + piece.box.width + 1);
  const y1 = Math.min(plane.height, piece.box.y + piece.box.height + 1);
  const width = x1 - x0;
  const height = y1 - y0;
  const data = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y + y0) * plane.width + (x + x0);
      const label = labels[i];
      if (label === 0 || piece.keep.has(label)) data[y * width + x] = plane.data[i];
    }
  }
  return { data, width, height };
}

/** The cleaned plane, dimmed, with each digit's box drawn: the `--explain` picture of a number. */
function boxesOverlay(plane: Plane, pieces: Piece[]): Plane {
  const data = plane.data.map((v) => v * 0.6);
  for (const { box } of pieces) {
    for (let x = box.x; x < box.x + box.width; x++) {
      data[box.y * plane.width + x] = 255;
      data[(box.y + box.height - 1) * plane.width + x] = 255;
    }
    for (let y = box.y; y < box.y + box.height; y++) {
      data[y * plane.width + box.x] = 255;
      data[y * plane.width + box.x + box.width - 1] = 255;
    }
  }
  return { data, width: plane.width, height: plane.height };
}

import { writeFileAtomic } from '../util/fs.js';
import { createRng } from '../util/rng.js';
import { IMAGE_SIZE, PIXELS, type ImageSet } from './types.js';
import { escapeMarkup } from '../util/markup.js';

export interface GridOptions {
  /** Label drawn at the start of each row, one per class. */
  classNames: string[];
  /** Samples per class (one row per class). */
  perClass?: number;
  /** Picks which samples are shown. */
  seed?: number;
  /** Each image pixel becomes scale x scale screen pixels. */
  scale?: number;
  /** A line of text above the grid. */
  title?: string;
}

const GAP = 2;
const BACKGROUND = 48;
const FONT = 'DejaVu Sans, Arial, sans-serif';

/** Up to `perClass` seeded random indices of each class, in row order. */
export function pickGridSamples(labels: Uint8Array, numClasses: number, perClass: number, seed: number): number[][] {
  const byClass: number[][] = Array.from({ length: numClasses }, () => []);
  labels.forEach((label, i) => byClass[label]?.push(i));
  const rng = createRng(seed);
  return byClass.map((indices) => rng.shuffle(indices).slice(0, perClass));
}

/** "7" for a digit, "7 Sneaker" for a named class. */
function rowLabel(name: string, k: number): string {
  return name === String(k) ? name : `${k} ${name}`;
}

/** Nearest-neighbour upscale of one 28x28 image into a canvas of `width` bytes per row. */
function blitScaled(
  canvas: Uint8Array,
  width: number,
  left: number,
  top: number,
  image: Uint8Array,
  scale: number,
): void {
  for (let y = 0; y < IMAGE_SIZE * scale; y++) {
    const row = (top + y) * width + left;
    const src = Math.floor(y / scale) * IMAGE_SIZE;
    for (let x = 0; x < IMAGE_SIZE * scale; x++) canvas[row + x] = image[src + Math.floor(x / scale)];
  }
}

/**
 * A PNG of sample images, one row per class with its label drawn at the left. The pixels are
 * the raw dataset bytes (white on black), upscaled without smoothing so nothing is invented.
 */
/** Where everything sits in the grid picture, in screen pixels. */
export interface GridLayout {
  width: number;
  height: number;
  scale: number;
  cell: number;
  fontSize: number;
  labelWidth: number;
  titleHeight: number;
  /** Left edge of column j's images. */
  cellLeft(j: number): number;
  /** Top edge of row k (class k). */
  rowTop(k: number): number;
}

export function gridLayout(options: GridOptions): GridLayout {
  const perClass = options.perClass ?? 10;
  const scale = options.scale ?? 2;
  const cell = IMAGE_SIZE * scale;
  const fontSize = Math.max(12, Math.round(cell * 0.45));
  // DejaVu Sans averages about 0.62 em per character; a little slack keeps long names clear.
  const longest = Math.max(...options.classNames.map((name, k) => rowLabel(name, k).length));
  const labelWidth = Math.ceil(longest * fontSize * 0.62) + 2 * GAP + 12;
  const titleHeight = options.title ? fontSize + 12 : 0;
  return {
    width: labelWidth + perClass * (cell + GAP) + GAP,
    height: titleHeight + options.classNames.length * (cell + GAP) + GAP,
    scale,
    cell,
    fontSize,
    labelWidth,
    titleHeight,
    cellLeft: (j) => labelWidth + j * (cell + GAP),
    rowTop: (k) => titleHeight + GAP + k * (cell + GAP),
  };
}

/**
 * A PNG of sample images, one row per class with its label drawn at the left. The pixels are
 * the raw dataset bytes (white on black), upscaled without smoothing so nothing is invented.
 */
export async function renderSampleGrid(set: ImageSet, options: GridOptions): Promise<Buffer> {
  const layout = gridLayout(options);
  const { width, height, cell, fontSize, labelWidth } = layout;
  const canvas = new Uint8Array(width * height).fill(BACKGROUND);
  const rows = pickGridSamples(set.labels, options.classNames.length, options.perClass ?? 10, options.seed ?? 1);
  rows.forEach((indices, k) => {
    indices.forEach((index, j) => {
      const image = set.images.subarray(index * PIXELS, (index + 1) * PIXELS);
      blitScaled(canvas, width, layout.cellLeft(j), layout.rowTop(k), image, layout.scale);
    });
  });

  const labels = options.classNames.map((name, k) => {
    const y = layout.rowTop(k) + cell / 2 + fontSize * 0.35;
    return `<text x="${labelWidth - 8}" y="${y}" text-anchor="end">${escapeMarkup(rowLabel(name, k))}</text>`;
  });
  const title = options.title ? `<text x="8" y="${fontSize + 4}">${escapeMarkup(options.title)}</text>` : '';
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">` +
    `<g font-family="${FONT}" font-size="${fontSize}" fill="#ffd24a">${title}${labels.join('')}</g></svg>`;

  const { default: sharp } = await import('sharp');
  return sharp(Buffer.from(canvas), { raw: { width, height, channels: 1 } })
    .composite([{ input: Buffer.from(svg), top: 0, left: 0 }])
    .png()
    .toBuffer();
}

/** Render the grid and write it atomically. */
export async function writeSampleGrid(path: string, set: ImageSet, options: GridOptions): Promise<void> {
  await writeFileAtomic(path, await renderSampleGrid(set, options));
}

/**
 * The pictures of the evaluate stage. Charts are Vega-Lite specs compiled to Vega and rendered
 * to SVG in Node (no browser, no canvas); image galleries are SVG written here around PNG tiles.
 * Every picture is saved as .svg and as .png (SVG → PNG by sharp/librsvg, which needs a system
 * font: Debian's fonts-dejavu-core).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as aq from 'arquero';
import sharp from 'sharp';
import * as vega from 'vega';
import * as vl from 'vega-lite';
import { IMAGE_SIZE, PIXELS, type ImageSet } from '../data/types.js';
import { RUN_FILES } from '../model/run.js';
import { readHistory, type EpochRecord } from '../train/history.js';
import { writeFileAtomic } from '../util/fs.js';
import type { CalibrationBin, ClassScores, ConfusedPair, WorstError } from './metrics.js';
import { escapeMarkup } from '../util/markup.js';

/** PNGs are rendered at twice the SVG's size, for sharp text on high-density screens. */
export const PNG_SCALE = 2;

export type HistoryRow = EpochRecord;

type VlSpec = vl.TopLevelSpec;

export interface Picture {
  svg: string;
  png: Buffer;
  width: number;
  height: number;
}

export interface PlotFile {
  /** File stem: `plots/NAME.svg` and `plots/NAME.png`. */
  name: string;
  title: string;
  svgPath: string;
  pngPath: string;
}

export const PLOT_NAMES = {
  learningCurves: 'learning-curves',
  confusionMatrix: 'confusion-matrix',
  perClass: 'per-class',
  reliability: 'reliability',
  worstErrors: 'worst-errors',
  confusedPairs: 'confused-pairs',
} as const;

const FONT = 'DejaVu Sans, Liberation Sans, Arial, sans-serif';
const CONFIG = {
  font: FONT,
  background: 'white',
  title: { fontSize: 15, anchor: 'start' as const, offset: 12 },
  axis: { labelFontSize: 11, titleFontSize: 12 },
  legend: { labelFontSize: 11, titleFontSize: 12 },
};

/** history.csv of a run (training's own parser), or undefined when there is none. */
export async function readRunHistory(runDir: string): Promise<HistoryRow[] | undefined> {
  const path = join(runDir, RUN_FILES.history);
  return existsSync(path) ? readHistory(path) : undefined;
}

/** Loss and accuracy per epoch, train and validation, side by side. */
export function learningCurvesSpec(history: HistoryRow[]): VlSpec {
  // Long format, one row per (epoch, metric, set): what a faceted line chart wants.
  const long = aq
    .from(history)
    .select('epoch', 'loss', 'accuracy', 'val_loss', 'val_accuracy')
    .fold(['loss', 'accuracy', 'val_loss', 'val_accuracy'], { as: ['key', 'value'] })
    .derive({
      metric: (d: { key: string }) => (d.key === 'loss' || d.key === 'val_loss' ? 'loss' : 'accuracy'),
      set: (d: { key: string }) => (d.key === 'val_loss' || d.key === 'val_accuracy' ? 'validation' : 'train'),
    })
    // Epochs without validation have empty val_ cells (null).
    .filter((d: { value: number | null }) => d.value !== null && aq.op.is_finite(d.value))
    .objects();
  const panel = (metric: string, title: string) => ({
    title,
    width: 330,
    height: 220,
    transform: [{ filter: { field: 'metric', equal: metric } }],
    mark: { type: 'line' as const, point: true },
    encoding: {
      x: { field: 'epoch', type: 'quantitative' as const, title: 'epoch', axis: { tickMinStep: 1, format: 'd' } },
      y: { field: 'value', type: 'quantitative' as const, title: metric, scale: { zero: false } },
      color: { field: 'set', type: 'nominal' as const, title: null, scale: { domain: ['train', 'validation'] } },
    },
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    data: { values: long },
    hconcat: [panel('loss', 'Loss (cross-entropy)'), panel('accuracy', 'Accuracy')],
    config: CONFIG,
  } as VlSpec;
}

/** Digits sit upright under their column; longer class names (Fashion-MNIST) are slanted so they do not overlap. */
const labelAngle = (classNames: string[]) => (classNames.some((n) => n.length > 3) ? -40 : 0);

/** Annotated heatmap, rows true class, columns predicted; colour on a log scale so that errors show. */
export function confusionMatrixSpec(cm: number[][], classNames: string[]): VlSpec {
  const cells = cm.flatMap((row, t) => row.map((count, p) => ({ true: classNames[t], predicted: classNames[p], count, diagonal: t === p })));
  const max = Math.max(1, ...cells.map((c) => c.count));
  const order = classNames;
  const side = Math.max(300, 36 * classNames.length);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: 'Confusion matrix (rows: true class, columns: predicted)',
    width: side,
    height: side,
    data: { values: cells },
    encoding: {
      x: { field: 'predicted', type: 'ordinal', sort: order, title: 'predicted', axis: { orient: 'top', labelAngle: labelAngle(classNames) } },
      y: { field: 'true', type: 'ordinal', sort: order, title: 'true' },
    },
    layer: [
      {
        mark: { type: 'rect', stroke: 'white', strokeWidth: 1 },
        encoding: {
          color: {
            field: 'count',
            type: 'quantitative',
            scale: { type: 'symlog', scheme: 'blues', domain: [0, max] },
            legend: { title: 'images' },
          },
        },
      },
      {
        mark: { type: 'text', fontSize: 11 },
        encoding: {
          text: { field: 'count', type: 'quantitative' },
          color: { condition: { test: `datum.count > ${Math.sqrt(max)}`, value: 'white' }, value: 'black' },
          opacity: { condition: { test: 'datum.count == 0', value: 0.35 }, value: 1 },
        },
      },
    ],
    config: CONFIG,
  } as VlSpec;
}

/** Grouped bars of precision, recall and F1 per class. The axis starts near the lowest score: the differences are small. */
export function perClassSpec(perClass: ClassScores[], classNames: string[]): VlSpec {
  const rows = perClass.flatMap((s) => [
    { class: classNames[s.digit], score: 'precision', value: s.precision },
    { class: classNames[s.digit], score: 'recall', value: s.recall },
    { class: classNames[s.digit], score: 'F1', value: s.f1 },
  ]);
  const lowest = Math.min(1, ...rows.map((r) => r.value));
  const floor = Math.max(0, Math.floor((lowest - 0.02) * 20) / 20);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: 'Precision, recall and F1 per class',
    width: Math.max(420, 48 * classNames.length),
    height: 240,
    data: { values: rows },
    mark: { type: 'bar', clip: true },
    encoding: {
      x: { field: 'class', type: 'ordinal', sort: classNames, title: 'class', axis: { labelAngle: labelAngle(classNames) } },
      xOffset: { field: 'score', type: 'nominal', sort: ['precision', 'recall', 'F1'] },
      y: { field: 'value', type: 'quantitative', title: floor > 0 ? `score (axis from ${floor})` : 'score', scale: { domain: [floor, 1], zero: false } },
      color: { field: 'score', type: 'nominal', sort: ['precision', 'recall', 'F1'], title: null },
      tooltip: [{ field: 'class' }, { field: 'score' }, { field: 'value', format: '.4f' }],
    },
    config: CONFIG,
  } as VlSpec;
}

/** Accuracy against confidence per bin, with the diagonal of perfect calibration. */
export function reliabilitySpec(bins: CalibrationBin[], ece: number): VlSpec {
  const filled = bins.filter((b) => b.count > 0).map((b) => ({ ...b, mid: (b.lo + b.hi) / 2 }));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: 'Reliability diagram', subtitle: `ECE ${(ece * 100).toFixed(2)}%, ${bins.length} bins; labels: images per bin` },
    width: 380,
    height: 300,
    layer: [
      {
        data: { values: filled },
        mark: { type: 'bar', opacity: 0.8, stroke: 'white' },
        encoding: {
          x: { field: 'lo', type: 'quantitative', title: 'confidence (max probability)', scale: { domain: [0, 1] } },
          x2: { field: 'hi' },
          y: { field: 'accuracy', type: 'quantitative', title: 'accuracy', scale: { domain: [0, 1] } },
          y2: { datum: 0 },
          color: { value: '#4c78a8' },
        },
      },
      {
        data: { values: filled },
        mark: { type: 'point', filled: true, color: '#e45756', size: 40 },
        encoding: { x: { field: 'confidence', type: 'quantitative' }, y: { field: 'accuracy', type: 'quantitative' } },
      },
      {
        data: { values: filled },
        mark: { type: 'text', dy: -8, fontSize: 9, color: '#333' },
        encoding: {
          x: { field: 'mid', type: 'quantitative' },
          y: { field: 'accuracy', type: 'quantitative' },
          text: { field: 'count', type: 'quantitative' },
        },
      },
      {
        data: { values: [{ x: 0, y: 0 }, { x: 1, y: 1 }] },
        mark: { type: 'line', strokeDash: [4, 4], color: 'gray' },
        encoding: { x: { field: 'x', type: 'quantitative' }, y: { field: 'y', type: 'quantitative' } },
      },
    ],
    config: CONFIG,
  } as VlSpec;
}

/** Vega-Lite spec → SVG (vega, headless) → PNG (sharp). */
export async function renderSpec(spec: VlSpec): Promise<Picture> {
  const compiled = vl.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    return { svg, ...(await svgToPng(svg)) };
  } finally {
    view.finalize();
  }
}

export async function svgToPng(svg: string): Promise<{ png: Buffer; width: number; height: number }> {
  const png = await sharp(Buffer.from(svg), { density: 72 * PNG_SCALE }).png().toBuffer();
  const { width = 0, height = 0 } = await sharp(png).metadata();
  return { png, width, height };
}

export interface GalleryItem {
  /** Index of the image in the set. */
  index: number;
  lines: string[];
  /** Highlight (red frame) for errors. */
  wrong?: boolean;
}

const TILE = 84;
const CAPTION_LINE = 14;

/** One 28x28 image as a PNG, upscaled without smoothing so that pixels stay square. */
async function tilePng(set: ImageSet, index: number): Promise<string> {
  const pixels = Buffer.from(set.images.subarray(index * PIXELS, (index + 1) * PIXELS));
  const side = TILE * PNG_SCALE;
  const png = await sharp(pixels, { raw: { width: IMAGE_SIZE, height: IMAGE_SIZE, channels: 1 } })
    .resize(side, side, { kernel: 'nearest' })
    .png()
    .toBuffer();
  return `data:image/png;base64,${png.toString('base64')}`;
}

/**
 * A grid of images with captions, as SVG. Rows may start with a heading (the confused-pairs
 * gallery has one row per pair).
 */
export async function renderGallery(set: ImageSet, title: string, rows: { heading?: string; items: GalleryItem[] }[], columns: number, subtitle?: string): Promise<Picture> {
  const pad = 12;
  const captionLines = Math.max(1, ...rows.flatMap((r) => r.items.map((i) => i.lines.length)));
  const cellW = TILE + 26;
  const cellH = TILE + 8 + captionLines * CAPTION_LINE + 10;
  const headingH = rows.some((r) => r.heading) ? 20 : 0;
  const top = 30 + (subtitle ? 18 : 0);
  let y = top;
  const parts: string[] = [];
  for (const row of rows) {
    if (row.heading) {
      parts.push(`<text x="${pad}" y="${y + 14}" font-size="13" font-weight="bold">${escapeMarkup(row.heading)}</text>`);
      y += headingH;
    }
    for (let start = 0; start < row.items.length; start += columns) {
      const line = row.items.slice(start, start + columns);
      for (const [c, item] of line.entries()) {
        const x = pad + c * cellW;
        parts.push(`<image x="${x}" y="${y}" width="${TILE}" height="${TILE}" xlink:href="${await tilePng(set, item.index)}" style="image-rendering:pixelated"/>`);
        if (item.wrong) parts.push(`<rect x="${x - 1}" y="${y - 1}" width="${TILE + 2}" height="${TILE + 2}" fill="none" stroke="#d62728" stroke-width="2"/>`);
        item.lines.forEach((text, l) => {
          parts.push(`<text x="${x}" y="${y + TILE + 14 + l * CAPTION_LINE}" font-size="11">${escapeMarkup(text)}</text>`);
        });
      }
      y += cellH;
    }
  }
  const width = pad * 2 + columns * cellW - 26 + 10;
  const height = y + pad - 10;
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${FONT}">` +
    `<rect width="${width}" height="${height}" fill="white"/>` +
    `<text x="${pad}" y="22" font-size="15" font-weight="bold">${escapeMarkup(title)}</text>` +
    (subtitle ? `<text x="${pad}" y="40" font-size="11" fill="#555">${escapeMarkup(subtitle)}</text>` : '') +
    parts.join('') +
    '</svg>';
  return { svg, ...(await svgToPng(svg)) };
}

const percent = (x: number, digits = 1) => `${(x * 100).toFixed(digits)}%`;

export const GALLERY_COLUMNS = 8;
export const GALLERY_PAIRS = 6;

/** The highest-confidence wrong answers, with true label, prediction and confidence. */
export function worstErrorsGallery(set: ImageSet, errors: WorstError[], classNames: string[]): Promise<Picture> {
  const items = errors.map((e) => ({
    index: e.index,
    wrong: true,
    lines: [`#${e.index}`, `true ${classNames[e.true]}`, `pred ${classNames[e.predicted]} ${percent(e.confidence, 0)}`],
  }));
  return renderGallery(set, 'Worst errors', [{ items }], GALLERY_COLUMNS, 'the wrong answers given with the highest confidence (image index, true class, prediction and its probability)');
}

/** One row per most-confused pair, with its most confident examples. */
export function confusedPairsGallery(set: ImageSet, pairs: ConfusedPair[], classNames: string[]): Promise<Picture> {
  const rows = pairs.slice(0, GALLERY_PAIRS).map((pair) => ({
    heading: `true ${classNames[pair.true]} → predicted ${classNames[pair.predicted]}: ${pair.count} image${pair.count === 1 ? '' : 's'}`,
    items: (pair.examples ?? []).slice(0, GALLERY_COLUMNS).map((e) => ({ index: e.index, wrong: true, lines: [`#${e.index}`, `P(${classNames[pair.predicted]}) ${percent(e.confidence, 0)}`] })),
  }));
  return renderGallery(set, 'Most-confused pairs', rows, GALLERY_COLUMNS, 'each row: one confusion and its most confident examples (image index, probability of the wrong class)');
}

export interface PlotInputs {
  classNames: string[];
  confusionMatrix: number[][];
  perClass: ClassScores[];
  calibration: CalibrationBin[];
  ece: number;
  worstErrors: WorstError[];
  confusedPairs: ConfusedPair[];
}

async function savePicture(dir: string, name: string, title: string, picture: Picture): Promise<PlotFile> {
  const svgPath = join(dir, `${name}.svg`);
  const pngPath = join(dir, `${name}.png`);
  await writeFileAtomic(svgPath, picture.svg);
  await writeFileAtomic(pngPath, picture.png);
  return { name, title, svgPath, pngPath };
}

/**
 * Render every picture into `plotsDir`: the learning curves (when the run has a history), the
 * confusion matrix, the per-class scores, the reliability diagram and the two error galleries.
 */
export async function writePlots(plotsDir: string, metrics: PlotInputs, set: ImageSet, history?: HistoryRow[]): Promise<PlotFile[]> {
  const files: PlotFile[] = [];
  if (history && history.length > 0) {
    files.push(await savePicture(plotsDir, PLOT_NAMES.learningCurves, 'Learning curves', await renderSpec(learningCurvesSpec(history))));
  }
  files.push(await savePicture(plotsDir, PLOT_NAMES.confusionMatrix, 'Confusion matrix', await renderSpec(confusionMatrixSpec(metrics.confusionMatrix, metrics.classNames))));
  files.push(await savePicture(plotsDir, PLOT_NAMES.perClass, 'Per-class scores', await renderSpec(perClassSpec(metrics.perClass, metrics.classNames))));
  files.push(await savePicture(plotsDir, PLOT_NAMES.reliability, 'Calibration', await renderSpec(reliabilitySpec(metrics.calibration, metrics.ece))));
  if (metrics.worstErrors.length > 0) {
    files.push(await savePicture(plotsDir, PLOT_NAMES.worstErrors, 'Worst errors', await worstErrorsGallery(set, metrics.worstErrors, metrics.classNames)));
  }
  if (metrics.confusedPairs.length > 0) {
    files.push(await savePicture(plotsDir, PLOT_NAMES.confusedPairs, 'Most-confused pairs', await confusedPairsGallery(set, metrics.confusedPairs, metrics.classNames)));
  }
  return files;
}

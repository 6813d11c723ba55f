/**
 * The charts of the evaluate stage: Vega-Lite specs, compiled to Vega and rendered to SVG in
 * Node (no browser, no canvas), then to PNG (picture.ts).
 */
import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { EpochRecord } from '../model/history.js';
import type { CalibrationBin, ClassScores } from '../metrics/classification.js';
import { FONT, svgToPng, type Picture } from './picture.js';

type VlSpec = vl.TopLevelSpec;

const CONFIG = {
  font: FONT,
  background: 'white',
  title: { fontSize: 15, anchor: 'start' as const, offset: 12 },
  axis: { labelFontSize: 11, titleFontSize: 12 },
  legend: { labelFontSize: 11, titleFontSize: 12 },
};

/** Loss and accuracy per epoch, train and validation, side by side. */
export function learningCurvesSpec(history: EpochRecord[]): VlSpec {
  // Long format, one row per (epoch, metric, set): what a faceted line chart wants.
  const series = [
    ['loss', 'loss', 'train'],
    ['accuracy', 'accuracy', 'train'],
    ['val_loss', 'loss', 'validation'],
    ['val_accuracy', 'accuracy', 'validation'],
  ] as const;
  const long = history.flatMap((row) =>
    series.flatMap(([key, metric, set]) => {
      const value = row[key];
      // Epochs without validation have empty val_ cells (null).
      return value !== null && Number.isFinite(value) ? [{ epoch: row.epoch, key, value, metric, set }] : [];
    }),
  );
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
  };
}

/** Digits sit upright under their column; longer class names (Fashion-MNIST) are slanted so they do not overlap. */
const labelAngle = (classNames: string[]) => (classNames.some((n) => n.length > 3) ? -40 : 0);

/** Annotated heatmap, rows true class, columns predicted; colour on a log scale so that errors show. */
export function confusionMatrixSpec(cm: number[][], classNames: string[]): VlSpec {
  const cells = cm.flatMap((row, t) =>
    row.map((count, p) => ({ true: classNames[t], predicted: classNames[p], count, diagonal: t === p })),
  );
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
      x: {
        field: 'predicted',
        type: 'ordinal',
        sort: order,
        title: 'predicted',
        axis: { orient: 'top', labelAngle: labelAngle(classNames) },
      },
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
  };
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
      x: {
        field: 'class',
        type: 'ordinal',
        sort: classNames,
        title: 'class',
        axis: { labelAngle: labelAngle(classNames) },
      },
      xOffset: { field: 'score', type: 'nominal', sort: ['precision', 'recall', 'F1'] },
      y: {
        field: 'value',
        type: 'quantitative',
        title: floor > 0 ? `score (axis from ${floor})` : 'score',
        scale: { domain: [floor, 1], zero: false },
      },
      color: { field: 'score', type: 'nominal', sort: ['precision', 'recall', 'F1'], title: null },
      tooltip: [{ field: 'class' }, { field: 'score' }, { field: 'value', format: '.4f' }],
    },
    config: CONFIG,
  };
}

/** The model's own probabilities before the calibration temperature, drawn beside the answers'. */
export interface BeforeTemperature {
  bins: CalibrationBin[];
  ece: number;
  temperature: number;
}

/**
 * Accuracy against confidence per bin, with the diagonal of perfect calibration: bars (and red
 * points at each bin's mean confidence) for the answers; with `before`, an orange line for the
 * model's own probabilities before the temperature, so that both calibrations show at once.
 */
export function reliabilitySpec(bins: CalibrationBin[], ece: number, before?: BeforeTemperature): VlSpec {
  const filled = bins.filter((b) => b.count > 0).map((b) => ({ ...b, mid: (b.lo + b.hi) / 2 }));
  const percent = (x: number) => `${(x * 100).toFixed(2)}%`;
  const subtitle = before
    ? [
        `bars, red points: after temperature T = ${before.temperature.toFixed(3)}, ECE ${percent(ece)}`,
        `orange line: before (T = 1), ECE ${percent(before.ece)}; ${bins.length} bins; labels: images per bin`,
      ]
    : `ECE ${percent(ece)}, ${bins.length} bins; labels: images per bin`;
  const beforeLayers = before
    ? [
        {
          data: { values: before.bins.filter((b) => b.count > 0) },
          mark: {
            type: 'line',
            point: { filled: true, size: 30, color: '#f58518' },
            color: '#f58518',
            strokeWidth: 1.5,
          },
          encoding: {
            x: { field: 'confidence', type: 'quantitative' },
            y: { field: 'accuracy', type: 'quantitative' },
          },
        },
      ]
    : [];
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: 'Reliability diagram', subtitle },
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
        data: {
          values: [
            { x: 0, y: 0 },
            { x: 1, y: 1 },
          ],
        },
        mark: { type: 'line', strokeDash: [4, 4], color: 'gray' },
        encoding: { x: { field: 'x', type: 'quantitative' }, y: { field: 'y', type: 'quantitative' } },
      },
      ...beforeLayers,
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

/**
 * "Inside the network", the report's pictures of what the model learned and what it sees: the
 * first convolution's filters, the feature maps of every convolution and pooling layer for one
 * test digit of each class, an embedding map (UMAP of the layer the last dense layer reads) and
 * saliency maps of the worst errors. Every activation comes from model/activations.ts (the one
 * function over the model's own layers); saliency from model/saliency.ts.
 *
 * The tile pictures are SVG around small PNGs at the activations' own resolution, drawn with
 * square pixels (`image-rendering: pixelated`, which librsvg honours too): a few hundred
 * kilobytes for all of them, and the report inlines the SVG. The embedding map is a Vega-Lite
 * chart like the others.
 */
import type * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { UMAP } from 'umap-js';
import type { TopLevelSpec } from 'vega-lite';
import { scalePixels, type PreprocessSpec } from '../data/model-input.js';
import { stratifiedIndices } from '../data/split.js';
import { IMAGE_SIZE, PIXELS, type ImageSet } from '../data/types.js';
import type { WorstError } from '../metrics/classification.js';
import { embeddingLayer, layerActivations, modelViews } from '../model/activations.js';
import {
  colourise,
  describeShape,
  filterTiles,
  mapsImage,
  quantiseView,
  type LayerView,
  type RgbaImage,
} from '../model/layer-views.js';
import { saliencyMaps } from '../model/saliency.js';
import { modelSummaryRows, type ModelSummary } from '../model/summary.js';
import { escapeMarkup } from '../util/markup.js';
import { createRng, deriveSeed } from '../util/rng.js';
import { renderSpec } from './charts.js';
import { FONT, svgToPng, type Picture } from './picture.js';
import { PLOT_NAMES, savePicture, type PlotFile } from './plots.js';

/** Test images put through UMAP: a stratified sample when the set is larger (UMAP's time grows faster than linearly). */
const EMBEDDING_SAMPLE = 5000;
/** UMAP's optimisation epochs (umap-js's own default for more than 10,000 points; 500 below that cost 2.5x the time for a map no easier to read). */
const UMAP_EPOCHS = 200;
/** Stream of the run's seed that picks the embedding's sample and seeds UMAP (deriveSeed). */
const EMBEDDING_STREAM = 16;
/** Worst errors shown with their saliency. */
const SALIENCY_ERRORS = 12;
/** SmoothGrad: noisy copies of each image whose gradients are averaged, and the noise (input units: 0..1), seeded. */
const SMOOTHING = { samples: 16, sigma: 0.15, seed: 17 };

const PAD = 12;
const TITLE = 30;
const SUBTITLE = 18;

// ---------------------------------------------------------------------------- tiles

async function pngOf(image: RgbaImage): Promise<string> {
  const png = await sharp(Buffer.from(image.rgba.buffer, image.rgba.byteOffset, image.rgba.byteLength), {
    raw: { width: image.width, height: image.height, channels: 4 },
  })
    .png({ compressionLevel: 9, palette: true, colours: 256, dither: 0 })
    .toBuffer();
  return `data:image/png;base64,${png.toString('base64')}`;
}

/** A 28x28 image of the set as it is (white ink on black), opaque. */
function digitImage(set: ImageSet, index: number): RgbaImage {
  const rgba = new Uint8ClampedArray(PIXELS * 4);
  for (let i = 0; i < PIXELS; i++) {
    const v = set.images[index * PIXELS + i];
    rgba.set([v, v, v, 255], i * 4);
  }
  return { width: IMAGE_SIZE, height: IMAGE_SIZE, rgba };
}

/**
 * One map of values ≥ 0 (a saliency map) in the maps' colours, scaled by its own maximum, over
 * a faint copy of the digit (so that one sees where the bright pixels are).
 */
function heatImage(values: Float32Array, side: number, digit: Uint8Array): RgbaImage {
  let max = 0;
  for (const v of values) max = Math.max(max, v);
  const bytes = Uint8Array.from(values, (v) => Math.round((v / (max || 1)) * 255));
  const rgba = colourise(bytes, 4);
  for (let i = 0; i < digit.length; i++) {
    const faint = digit[i] * 0.25;
    for (let c = 0; c < 3; c++) rgba[i * 4 + c] = Math.max(rgba[i * 4 + c], faint);
  }
  return { width: side, height: side, rgba };
}

const image = (x: number, y: number, width: number, height: number, href: string) =>
  `<image x="${x}" y="${y}" width="${width}" height="${height}" preserveAspectRatio="none" style="image-rendering:pixelated" xlink:href="${href}"/>`;
const text = (x: number, y: number, content: string, attributes = 'font-size="11"') =>
  `<text x="${x}" y="${y}" ${attributes}>${escapeMarkup(content)}</text>`;

async function svgPicture(
  width: number,
  height: number,
  title: string,
  subtitle: string,
  parts: string[],
): Promise<Picture> {
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${FONT}">` +
    `<rect width="${width}" height="${height}" fill="white"/>` +
    text(PAD, 22, title, 'font-size="15" font-weight="bold"') +
    text(PAD, 40, subtitle, 'font-size="11" fill="#555"') +
    parts.join('') +
    '</svg>';
  return { svg, ...(await svgToPng(svg)) };
}

// ---------------------------------------------------------------------------- filters

/** The first convolution's filters, one tile each, on one colour scale; undefined for a model without convolutions. */
async function filtersPicture(model: tf.LayersModel): Promise<Picture | undefined> {
  const conv = model.layers.find((layer) => layer.getClassName() === 'Conv2D');
  if (!conv) return undefined;
  const kernel = conv.getWeights()[0];
  const [kh, kw, inChannels, filters] = kernel.shape;
  const { max, tiles } = filterTiles(kernel.dataSync(), kernel.shape);
  const tile = 40;
  const columns = Math.min(16, filters);
  const cellW = tile + 10;
  const cellH = tile + 22;
  const top = TITLE + SUBTITLE;
  const parts: string[] = [];
  for (let f = 0; f < filters; f++) {
    const x = PAD + (f % columns) * cellW;
    const y = top + Math.floor(f / columns) * cellH;
    parts.push(image(x, y, tile, tile, await pngOf(tiles[f])));
    parts.push(`<rect x="${x}" y="${y}" width="${tile}" height="${tile}" fill="none" stroke="#bbb"/>`);
    parts.push(text(x + tile / 2, y + tile + 14, String(f + 1), 'font-size="10" text-anchor="middle" fill="#555"'));
  }
  const width = PAD * 2 + columns * cellW - 10;
  const height = top + Math.ceil(filters / columns) * cellH + PAD - 8;
  const subtitle = `${conv.name}: ${filters} filters ${kh}x${kw}${inChannels > 1 ? ` (mean over ${inChannels} input channels)` : ''}; red positive, blue negative weights, one scale (largest |w| ${max.toPrecision(3)})`;
  return svgPicture(Math.max(width, 560), height, 'Filters of the first convolution', subtitle, parts);
}

// ---------------------------------------------------------------------------- feature maps

/** The first image of each class in the set (in class order; classes absent from the set are left out). */
export function firstOfEachClass(labels: Uint8Array, classes: number): number[] {
  const first = new Array<number>(classes).fill(-1);
  labels.forEach((label, i) => {
    if (label < classes && first[label] < 0) first[label] = i;
  });
  return first.filter((i) => i >= 0);
}

/** Images of the set at the model's scale, one after the other. */
function modelInputs(set: ImageSet, indices: readonly number[], spec: PreprocessSpec): Float32Array {
  const inputs = new Float32Array(indices.length * PIXELS);
  indices.forEach((index, k) =>
    scalePixels(
      set.images.subarray(index * PIXELS, (index + 1) * PIXELS),
      inputs.subarray(k * PIXELS, (k + 1) * PIXELS),
      spec,
    ),
  );
  return inputs;
}

/** Display size of one map in the picture: small maps are blown up by a whole factor, to about this side. */
const MAP_SIDE = 28;
const DENSE_CELL = 8;

/**
 * For each of `indices` (one row each), the input and the maps of every view (each
 * convolution and pooling layer after its batch norm and activation, and the hidden dense
 * layers' values). Each view of each image on its own scale, 0 black to its largest value pale yellow.
 */
async function featureMapsPicture(
  model: tf.LayersModel,
  set: ImageSet,
  indices: readonly number[],
  spec: PreprocessSpec,
  classNames: string[],
  views: LayerView[],
): Promise<Picture> {
  const activations = layerActivations(model, modelInputs(set, indices, spec), indices.length, {
    layers: views.map((v) => v.layer),
  });
  const columns = views.map((view, v) => {
    const perImage = activations[v].values.length / indices.length;
    const grids = indices.map((_, k) =>
      mapsImage(quantiseView(activations[v].values.subarray(k * perImage, (k + 1) * perImage), view.shape)),
    );
    const scale = view.kind === 'dense' ? DENSE_CELL : Math.max(1, Math.round(MAP_SIDE / view.shape[0]));
    return { view, grids, scale, width: grids[0].width * scale, height: grids[0].height * scale };
  });
  const inputSide = 56;
  const gapX = 18;
  const headerH = 34;
  const rowH = Math.max(inputSide + 28, ...columns.map((c) => c.height)) + 16;
  const top = TITLE + SUBTITLE + headerH;
  const xs: number[] = [];
  let x = PAD + inputSide + gapX;
  for (const column of columns) {
    xs.push(x);
    x += column.width + gapX;
  }
  const parts: string[] = [text(PAD, top - 18, 'input', 'font-size="12" font-weight="bold"')];
  columns.forEach((c, v) => {
    parts.push(text(xs[v], top - 18, c.view.label, 'font-size="12" font-weight="bold"'));
    parts.push(
      text(
        xs[v],
        top - 5,
        `${c.view.after ? `${c.view.after}, ` : ''}${describeShape(c.view.shape)}`,
        'font-size="10" fill="#555"',
      ),
    );
  });
  for (const [k, index] of indices.entries()) {
    const y = top + k * rowH;
    parts.push(image(PAD, y, inputSide, inputSide, await pngOf(digitImage(set, index))));
    parts.push(
      text(
        PAD,
        y + inputSide + 13,
        `class ${classNames[set.labels[index]] ?? set.labels[index]}`,
        'font-size="11" font-weight="bold"',
      ),
    );
    parts.push(text(PAD, y + inputSide + 26, `#${index}`, 'font-size="10" fill="#555"'));
    for (const [v, c] of columns.entries()) parts.push(image(xs[v], y, c.width, c.height, await pngOf(c.grids[k])));
  }
  const width = x - gapX + PAD;
  const height = top + indices.length * rowH + PAD - 16;
  return svgPicture(
    width,
    height,
    'Feature maps',
    "the first test image of each class, and what each layer makes of it: every map of every channel (black 0, pale yellow the layer's largest value for that image)",
    parts,
  );
}

// ---------------------------------------------------------------------------- embedding

interface EmbeddingPoint {
  x: number;
  y: number;
  /** Index of the image in the set. */
  index: number;
  label: number;
  predicted: number;
}

export interface Embedding {
  /** The layer whose values are mapped, and how many each image has. */
  layer: string;
  dimensions: number;
  points: EmbeddingPoint[];
  /** Images in the set (points are all of them, or a stratified sample). */
  of: number;
  /** Milliseconds: the layer's values (and the predictions) of the points, then UMAP. */
  activationMs: number;
  umapMs: number;
}

/**
 * The penultimate layer's values of the set's images (a stratified sample of `sample` when the
 * set is larger), projected to 2-D by UMAP seeded from `seed`, with each image's prediction
 * (from the same model call).
 */
export function computeEmbedding(
  model: tf.LayersModel,
  set: ImageSet,
  spec: PreprocessSpec,
  options: { seed: number; sample?: number },
): Embedding {
  const layer = embeddingLayer(model);
  if (!layer)
    throw new Error(`model ${model.name} has no hidden layer before its last dense layer: no embedding to map`);
  const rng = createRng(deriveSeed(options.seed, EMBEDDING_STREAM));
  const sample = options.sample ?? EMBEDDING_SAMPLE;
  const indices =
    set.count > sample
      ? Array.from(stratifiedIndices(set.labels, sample, rng.fork()).picked)
      : Array.from({ length: set.count }, (_, i) => i);
  const started = performance.now();
  const output = model.layers[model.layers.length - 1].name;
  const [values, probabilities] = layerActivations(model, modelInputs(set, indices, spec), indices.length, {
    layers: [layer, output],
  });
  const dimensions = values.values.length / Math.max(1, indices.length);
  const classes = probabilities.values.length / Math.max(1, indices.length);
  const rows = indices.map((_, k) => Array.from(values.values.subarray(k * dimensions, (k + 1) * dimensions)));
  const activationMs = performance.now() - started;
  const umap = new UMAP({
    nComponents: 2,
    nNeighbors: Math.min(15, Math.max(2, indices.length - 1)),
    minDist: 0.1,
    nEpochs: UMAP_EPOCHS,
    random: rng.next,
  });
  const xy = indices.length > 2 ? umap.fit(rows) : rows.map(() => [0, 0]);
  const umapMs = performance.now() - started - activationMs;
  const points = indices.map((index, k) => {
    const row = probabilities.values.subarray(k * classes, (k + 1) * classes);
    return { x: xy[k][0], y: xy[k][1], index, label: set.labels[index], predicted: row.indexOf(Math.max(...row)) };
  });
  return { layer, dimensions, points, of: set.count, activationMs, umapMs };
}

/** The embedding as a Vega-Lite scatter: one colour per class, misclassified images ringed in black. */
export function embeddingSpec(embedding: Embedding, classNames: string[]): TopLevelSpec {
  const name = (k: number) => classNames[k] ?? String(k);
  const values = embedding.points.map((p) => ({
    x: p.x,
    y: p.y,
    class: name(p.label),
    predicted: name(p.predicted),
    wrong: p.label !== p.predicted,
    index: p.index,
  }));
  const wrong = values.filter((v) => v.wrong).length;
  const sampled =
    embedding.points.length < embedding.of
      ? `${embedding.points.length.toLocaleString('en-US')} of ${embedding.of.toLocaleString('en-US')} images (a stratified sample)`
      : `all ${embedding.of.toLocaleString('en-US')} images`;
  const axis = { title: null, labels: false, ticks: false, domain: false, grid: false };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: {
      text: `Embedding map: UMAP of the ${embedding.dimensions} values the last dense layer reads`,
      subtitle: `${sampled}, one colour per true class; black rings: the ${wrong} misclassified`,
    },
    width: 560,
    height: 460,
    data: { values },
    encoding: {
      x: { field: 'x', type: 'quantitative', axis, scale: { zero: false, nice: false } },
      y: { field: 'y', type: 'quantitative', axis, scale: { zero: false, nice: false } },
    },
    layer: [
      {
        mark: { type: 'circle', size: 9, opacity: 0.65 },
        encoding: {
          color: {
            field: 'class',
            type: 'nominal',
            sort: classNames,
            scale: { scheme: 'category10' },
            title: 'true class',
          },
        },
      },
      {
        transform: [{ filter: 'datum.wrong' }],
        mark: { type: 'point', size: 40, stroke: 'black', strokeWidth: 1.2, filled: false },
      },
    ],
    config: {
      font: FONT,
      background: 'white',
      view: { stroke: null },
      title: { fontSize: 15, anchor: 'start', offset: 12 },
      legend: { labelFontSize: 11, titleFontSize: 12 },
    },
  };
}

// ---------------------------------------------------------------------------- saliency

/**
 * The worst errors with their saliency: the image, |d p / d pixel| of the class the model gave
 * (what drove the wrong answer), and of the true class (what would have raised it).
 */
async function saliencyPicture(
  model: tf.LayersModel,
  set: ImageSet,
  errors: readonly WorstError[],
  spec: PreprocessSpec,
  classNames: string[],
): Promise<Picture | undefined> {
  const shown = errors.slice(0, SALIENCY_ERRORS);
  if (shown.length === 0) return undefined;
  const inputs = modelInputs(
    set,
    shown.map((e) => e.index),
    spec,
  );
  const smooth = { ...SMOOTHING, sigma: SMOOTHING.sigma * 255 * spec.scale };
  const predicted = saliencyMaps(model, inputs, shown.length, { classes: shown.map((e) => e.predicted), smooth });
  const truth = saliencyMaps(model, inputs, shown.length, { classes: shown.map((e) => e.true), smooth });
  const name = (k: number) => classNames[k] ?? String(k);
  const tile = 64;
  const perRow = 4;
  const groupW = 3 * (tile + 4) + 22;
  const cellH = tile + 34;
  const top = TITLE + SUBTITLE + 6;
  const parts: string[] = [];
  for (const [k, error] of shown.entries()) {
    const x = PAD + (k % perRow) * groupW;
    const y = top + Math.floor(k / perRow) * cellH;
    const digit = set.images.subarray(error.index * PIXELS, (error.index + 1) * PIXELS);
    const map = (s: typeof predicted) => heatImage(s.maps.subarray(k * PIXELS, (k + 1) * PIXELS), IMAGE_SIZE, digit);
    const tiles = [digitImage(set, error.index), map(predicted), map(truth)];
    for (const [t, picture] of tiles.entries())
      parts.push(image(x + t * (tile + 4), y, tile, tile, await pngOf(picture)));
    parts.push(
      `<rect x="${x - 1}" y="${y - 1}" width="${tile + 2}" height="${tile + 2}" fill="none" stroke="#d62728" stroke-width="2"/>`,
    );
    parts.push(
      text(x, y + tile + 13, `#${error.index}: ${name(error.true)} read as ${name(error.predicted)}`, 'font-size="10"'),
    );
    parts.push(text(x + tile + 4, y + tile + 26, `why ${name(error.predicted)}`, 'font-size="10" fill="#555"'));
    parts.push(text(x + 2 * (tile + 4), y + tile + 26, `why not ${name(error.true)}`, 'font-size="10" fill="#555"'));
  }
  const width = PAD * 2 + Math.min(perRow, shown.length) * groupW - 22;
  const height = top + Math.ceil(shown.length / perRow) * cellH + PAD - 8;
  return svgPicture(
    Math.max(width, 600),
    height,
    'Saliency of the worst errors',
    `|d p / d pixel| of the class given (middle) and of the true class (right): bright pixels move it most (SmoothGrad, ${SMOOTHING.samples} noisy copies)`,
    parts,
  );
}

// ---------------------------------------------------------------------------- all of it

export interface InsideInputs {
  classNames: string[];
  worstErrors: WorstError[];
}

export interface InsideResult {
  summary: ModelSummary;
  plots: PlotFile[];
  embedding?: Omit<Embedding, 'points'> & { misclassified: number; points: number };
  /** Milliseconds for all of it, pictures included. */
  ms: number;
}

/**
 * Compute and write the pictures of inside the network into `plotsDir` (filters, feature maps,
 * embedding map, saliency of the worst errors) for a model and the set it was evaluated on.
 */
export async function writeInsidePlots(
  plotsDir: string,
  model: tf.LayersModel,
  set: ImageSet,
  inputs: InsideInputs,
  options: { spec: PreprocessSpec; seed: number; embeddingSample?: number },
): Promise<InsideResult> {
  const started = performance.now();
  const plots: PlotFile[] = [];
  const filters = await filtersPicture(model);
  if (filters) plots.push(await savePicture(plotsDir, PLOT_NAMES.filters, 'Filters of the first convolution', filters));
  const views = modelViews(model);
  const digits = firstOfEachClass(set.labels, inputs.classNames.length);
  if (views.some((v) => v.kind !== 'dense') && digits.length > 0) {
    plots.push(
      await savePicture(
        plotsDir,
        PLOT_NAMES.featureMaps,
        'Feature maps',
        await featureMapsPicture(model, set, digits, options.spec, inputs.classNames, views),
      ),
    );
  }
  let embedding: InsideResult['embedding'];
  if (set.count > 2 && embeddingLayer(model)) {
    const computed = computeEmbedding(model, set, options.spec, {
      seed: options.seed,
      sample: options.embeddingSample,
    });
    plots.push(
      await savePicture(
        plotsDir,
        PLOT_NAMES.embedding,
        'Embedding map',
        await renderSpec(embeddingSpec(computed, inputs.classNames)),
      ),
    );
    const { points, ...rest } = computed;
    embedding = { ...rest, points: points.length, misclassified: points.filter((p) => p.label !== p.predicted).length };
  }
  const saliency = await saliencyPicture(model, set, inputs.worstErrors, options.spec, inputs.classNames);
  if (saliency) plots.push(await savePicture(plotsDir, PLOT_NAMES.saliency, 'Saliency of the worst errors', saliency));
  return { summary: modelSummaryRows(model), plots, embedding, ms: performance.now() - started };
}

/**
 * What "inside the network" shows, free of TensorFlow.js so that the draw-a-digit page bundles
 * it as well as Node: which layers' outputs make a view (each convolution and pooling layer, the
 * hidden dense layers), how a layer's maps are shrunk and quantised to bytes (the server's
 * `?layers=1` answer, the page's in-browser mode), how they are laid out in a grid, and the
 * colours they are drawn in. model/activations.ts computes the values, this module describes
 * them.
 */

/** A layer as both tfjs-layers in Node and the page's own copy of it describe it. */
export interface LayerInfo {
  name: string;
  className: string;
  /** Output shape without the batch axis: [height, width, channels] or [units]. */
  shape: number[];
  /** The `activation` of its config, when it has one ('relu', 'softmax', 'linear', ...). */
  activation?: string;
  /** The layer it reads, when known: in a graph (an ensemble's members side by side) what follows what. */
  inbound?: string;
}

export type ViewKind = 'conv' | 'pool' | 'dense';

/** One view: the output of `layer` (a convolution, pooling or hidden dense layer, after its batch norm and activation). */
export interface LayerView {
  kind: ViewKind;
  /** "conv 1", "pool 2", "dense 1". */
  label: string;
  /** The layer whose output is shown. */
  layer: string;
  /** The convolution, pooling or dense layer the view starts at. */
  first: string;
  /** What follows it and is shown with it ("batch norm + relu"); '' when nothing. */
  after: string;
  shape: number[];
}

const KINDS: Record<string, ViewKind> = {
  Conv2D: 'conv',
  DepthwiseConv2D: 'conv',
  SeparableConv2D: 'conv',
  MaxPooling2D: 'pool',
  AveragePooling2D: 'pool',
  Dense: 'dense',
};

/** Layers that transform a view's values in place: shown as part of the view before them. */
const FOLLOWERS = new Set(['BatchNormalization', 'Activation', 'ReLU', 'LeakyReLU', 'ELU']);

function followerName(layer: LayerInfo): string {
  if (layer.className === 'BatchNormalization') return 'batch norm';
  return layer.activation ?? layer.className.toLowerCase();
}

/**
 * The views of a network, in order: every convolution and pooling layer, and every dense layer
 * but those whose output becomes the probabilities (shown anyway): the last dense layer, or any
 * followed by a softmax. A convolution or dense layer followed by batch norm and an activation
 * is shown after them: what the next layer reads. `kinds` keeps some kinds only.
 */
export function layerViews(
  layers: readonly LayerInfo[],
  kinds: readonly ViewKind[] = ['conv', 'pool', 'dense'],
): LayerView[] {
  const graph = layers.some((l) => l.inbound !== undefined);
  /** The layer that reads `i`'s output, when it is the next one (a Sequential) or says so (a graph). */
  const next = (i: number): number =>
    graph ? layers.findIndex((l, j) => j > i && l.inbound === layers[i].name) : i + 1 < layers.length ? i + 1 : -1;
  const lastDense = layers.map((l) => l.className).lastIndexOf('Dense');
  const counts: Record<ViewKind, number> = { conv: 0, pool: 0, dense: 0 };
  const views: LayerView[] = [];
  layers.forEach((layer, i) => {
    const kind = KINDS[layer.className];
    if (!kind) return;
    let end = i;
    for (
      let j = next(end);
      j >= 0 && FOLLOWERS.has(layers[j].className) && layers[j].activation !== 'softmax';
      j = next(end)
    )
      end = j;
    const after = next(end);
    if (kind === 'dense' && (i === lastDense || (after >= 0 && layers[after].activation === 'softmax'))) return;
    const followers = layers
      .filter((_, j) => j !== i && j <= end && (graph ? isBetween(layers, i, j, end, next) : j > i))
      .map(followerName);
    if (layer.activation && layer.activation !== 'linear') followers.unshift(layer.activation);
    const label = `${kind} ${++counts[kind]}`;
    if (!kinds.includes(kind)) return;
    views.push({
      kind,
      label,
      layer: layers[end].name,
      first: layer.name,
      after: followers.join(' + '),
      shape: layers[end].shape,
    });
  });
  return views;
}

/** Whether layer j is on the chain from i to end (each the next of the one before). */
function isBetween(
  layers: readonly LayerInfo[],
  i: number,
  j: number,
  end: number,
  next: (k: number) => number,
): boolean {
  for (let k = next(i); k >= 0 && k <= end; k = next(k)) {
    if (k === j) return true;
    if (k === end) break;
  }
  return false;
}

/** "32 maps 28x28" or "128 units". */
export function describeShape(shape: readonly number[]): string {
  return shape.length === 3 ? `${shape[2]} maps ${shape[0]}x${shape[1]}` : `${shape.reduce((a, b) => a * b, 1)} units`;
}

/** A view's values for one image as bytes: maps (channel by channel, row by row) or a vector. */
export interface QuantisedView {
  /** Map side after shrinking (1 x units for a vector). */
  height: number;
  width: number;
  channels: number;
  /** Each byte b stands for lo + b / 255 * (hi - lo). */
  lo: number;
  hi: number;
  /** channels * height * width bytes, channel-major: map c is bytes [c*h*w, (c+1)*h*w). */
  bytes: Uint8Array;
  /** How many pixels of the layer's map one pixel here summarises (by its maximum), per side. */
  factor: number;
}

/**
 * One image's view values (height x width x channels, channel last, as tfjs gives them; or a
 * vector) → bytes, with maps shrunk by the smallest whole factor (max over factor x factor
 * blocks: a ReLU map's peaks survive) that keeps them within `maxBytes`. Scaled over the whole
 * layer, so a weak channel looks weak.
 */
export function quantiseView(values: ArrayLike<number>, shape: readonly number[], maxBytes = Infinity): QuantisedView {
  const [h, w, c] = shape.length === 3 ? shape : [1, shape.reduce((a, b) => a * b, 1), 1];
  let factor = 1;
  while (Math.ceil(h / factor) * Math.ceil(w / factor) * c > maxBytes && factor < Math.max(h, w)) factor++;
  const oh = Math.ceil(h / factor);
  const ow = Math.ceil(w / factor);
  const shrunk = new Float32Array(c * oh * ow).fill(-Infinity);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const to = Math.floor(y / factor) * ow + Math.floor(x / factor);
      for (let k = 0; k < c; k++) {
        const v = values[(y * w + x) * c + k];
        const at = k * oh * ow + to;
        if (v > shrunk[at]) shrunk[at] = v;
      }
    }
  }
  let lo = 0;
  let hi = 0;
  for (const v of shrunk) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const range = hi - lo || 1;
  const bytes = new Uint8Array(shrunk.length);
  for (let i = 0; i < shrunk.length; i++) bytes[i] = Math.round(((shrunk[i] - lo) / range) * 255);
  return { height: oh, width: ow, channels: c, lo, hi, bytes, factor };
}

/**
 * What the draw-a-digit page shows inside the network, live: each convolution's maps and the
 * hidden dense layers' values (a pooling layer's maps are its convolution's, shrunk: the page
 * shows a large first convolution shrunk by its maximum, which is what its pooling computes),
 * each view at most PAGE_VIEW_MAX_BYTES bytes. The server's `?layers=1` and the in-browser
 * model both follow it, so the two modes show the same.
 */
export const PAGE_VIEW_KINDS: readonly ViewKind[] = ['conv', 'dense'];
export const PAGE_VIEW_MAX_BYTES = 16 * 1024;

/** One view of one image as the server's `?layers=1` answers it (JSON): the view, and its bytes in base64. */
export interface LayerViewJson extends Omit<LayerView, 'first'>, Omit<QuantisedView, 'bytes'> {
  /** base64 of the channels * height * width bytes. */
  data: string;
}

/** Columns of a grid of `channels` maps: 8 for up to 32 maps, 16 beyond (a wide rectangle either way). */
function gridColumns(channels: number): number {
  return channels <= 8 ? channels : channels <= 32 ? 8 : 16;
}

/** An RGBA image (a canvas's ImageData, or sharp's raw input with 4 channels). */
export interface RgbaImage {
  width: number;
  height: number;
  rgba: Uint8ClampedArray;
}

/**
 * The maps of a quantised view side by side in `MAP_COLOURS`, `columns` to a row, `gap`
 * transparent pixels apart. A vector is a grid of one-pixel cells, `columns` to a row.
 */
export function mapsImage(view: QuantisedView, options: { columns?: number; gap?: number } = {}): RgbaImage {
  const { height: h, width: w, channels: c, bytes } = view;
  if (c === 1 && h === 1) {
    const columns = Math.min(options.columns ?? 16, w);
    const rows = Math.ceil(w / columns);
    const rgba = new Uint8ClampedArray(columns * rows * 4);
    colourise(bytes, 4, rgba);
    return { width: columns, height: rows, rgba };
  }
  const gap = options.gap ?? 1;
  const columns = Math.min(options.columns ?? gridColumns(c), c);
  const rows = Math.ceil(c / columns);
  const width = columns * w + (columns - 1) * gap;
  const height = rows * h + (rows - 1) * gap;
  const rgba = new Uint8ClampedArray(width * height * 4);
  const line = new Uint8ClampedArray(w * 4);
  for (let k = 0; k < c; k++) {
    const left = (k % columns) * (w + gap);
    const top = Math.floor(k / columns) * (h + gap);
    for (let y = 0; y < h; y++) {
      colourise(bytes.subarray(k * h * w + y * w, k * h * w + (y + 1) * w), 4, line);
      rgba.set(line, ((top + y) * width + left) * 4);
    }
  }
  return { width, height, rgba };
}

/** Anchors of the colour scale of maps, dark (0) to bright (255): black, purple, orange, pale yellow ("magma"-like). */
const MAGMA: [number, number, number][] = [
  [0, 0, 4],
  [40, 11, 84],
  [101, 21, 110],
  [159, 42, 99],
  [212, 72, 66],
  [245, 125, 21],
  [250, 193, 39],
  [252, 253, 191],
];

/** 256 RGB colours (768 bytes) from dark to bright, for maps of activations. */
const MAP_COLOURS: Uint8Array = (() => {
  const table = new Uint8Array(256 * 3);
  for (let v = 0; v < 256; v++) {
    const t = (v / 255) * (MAGMA.length - 1);
    const i = Math.min(MAGMA.length - 2, Math.floor(t));
    const f = t - i;
    for (let ch = 0; ch < 3; ch++) table[v * 3 + ch] = Math.round(MAGMA[i][ch] * (1 - f) + MAGMA[i + 1][ch] * f);
  }
  return table;
})();

/** Gray bytes → colours of `MAP_COLOURS`, 3 (RGB) or 4 (RGBA, opaque: a canvas's ImageData) bytes a pixel. */
export function colourise(
  pixels: Uint8Array,
  channels: 3 | 4 = 3,
  out = new Uint8ClampedArray(pixels.length * channels),
): Uint8ClampedArray {
  for (let i = 0; i < pixels.length; i++) {
    const v = pixels[i] * 3;
    out[i * channels] = MAP_COLOURS[v];
    out[i * channels + 1] = MAP_COLOURS[v + 1];
    out[i * channels + 2] = MAP_COLOURS[v + 2];
    if (channels === 4) out[i * channels + 3] = 255;
  }
  return out;
}

/** Weight → colour: blue for negative, white for 0, red for positive (ColorBrewer RdBu ends); t in [-1, 1]. */
function diverging(t: number): [number, number, number] {
  const [r, g, b] = t >= 0 ? [178, 24, 43] : [33, 102, 172];
  const a = Math.min(1, Math.abs(t));
  return [Math.round(255 + (r - 255) * a), Math.round(255 + (g - 255) * a), Math.round(255 + (b - 255) * a)];
}

/**
 * A convolution's filters (its kernel's values, [kh, kw, inChannels, filters] as tfjs holds
 * them), one kh x kw RGBA tile each, all on one colour scale: red positive, blue negative, white
 * 0, the largest |weight| (`max`) at full colour. Filters over several input channels (not
 * MNIST's first layer) are shown as their mean. The report (evaluate/inside.ts) and the page's
 * Train panel draw the first convolution's filters with it.
 */
export function filterTiles(kernel: ArrayLike<number>, shape: readonly number[]): { max: number; tiles: RgbaImage[] } {
  const [kh, kw, inChannels, filters] = shape;
  const mean = (f: number, y: number, x: number) => {
    let sum = 0;
    for (let c = 0; c < inChannels; c++) sum += kernel[((y * kw + x) * inChannels + c) * filters + f];
    return sum / inChannels;
  };
  let max = 0;
  for (let f = 0; f < filters; f++)
    for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) max = Math.max(max, Math.abs(mean(f, y, x)));
  const tiles = Array.from({ length: filters }, (_, f) => {
    const rgba = new Uint8ClampedArray(kh * kw * 4);
    for (let y = 0; y < kh; y++)
      for (let x = 0; x < kw; x++) rgba.set([...diverging(mean(f, y, x) / (max || 1)), 255], (y * kw + x) * 4);
    return { width: kw, height: kh, rgba };
  });
  return { max, tiles };
}

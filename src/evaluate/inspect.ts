/**
 * `mnist-cnn inspect RUN IMAGE...`: every layer's output for each image, as PNGs (each channel
 * a map, in the report's colours) and as statistics. Images go through the run's own
 * preprocessing (Predictor), the layers through model/activations.ts, the one function over the
 * model's own layers.
 */
import { readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import sharp from 'sharp';
import { layerActivations } from '../model/activations.js';
import { mapsImage, quantiseView, type RgbaImage } from '../model/layer-views.js';
import type { Predictor } from '../predict/predictor.js';
import { UserError } from '../util/errors.js';
import { writeFileAtomic } from '../util/fs.js';

interface LayerStats {
  name: string;
  className: string;
  /** One image's output shape: [height, width, channels] or [units]. */
  shape: number[];
  min: number;
  max: number;
  mean: number;
  std: number;
  /** Share of the values that are exactly 0 (a ReLU's silent units). */
  zeros: number;
  /** The PNG written for the layer. */
  png: string;
}

export interface Inspection {
  file: string;
  /** The folder of this image's PNGs. */
  dir: string;
  digit: number | null;
  confidence: number;
  reason?: string;
  /** The 28x28 input the model saw, as a PNG. */
  input: string;
  layers: LayerStats[];
}

/** A map is drawn this many pixels high at least (small maps are blown up by a whole factor). */
const MIN_SIDE = 56;
const VECTOR_CELL = 12;

function stats(values: Float32Array): Omit<LayerStats, 'name' | 'className' | 'shape' | 'png'> {
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  let zeros = 0;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
    if (v === 0) zeros++;
  }
  const mean = sum / values.length;
  let squares = 0;
  for (const v of values) squares += (v - mean) ** 2;
  return { min, max, mean, std: Math.sqrt(squares / values.length), zeros: zeros / values.length };
}

async function writePng(path: string, image: RgbaImage, scale: number): Promise<void> {
  const png = await sharp(Buffer.from(image.rgba.buffer, image.rgba.byteOffset, image.rgba.byteLength), {
    raw: { width: image.width, height: image.height, channels: 4 },
  })
    .resize(image.width * scale, image.height * scale, { kernel: 'nearest' })
    .png({ compressionLevel: 9 })
    .toBuffer();
  await writeFileAtomic(path, png);
}

/** A folder name for image `i` that is unique and still says which file it was. */
function folderName(file: string, i: number): string {
  const name = basename(file)
    .replace(/\.[a-z0-9]+$/i, '')
    .replace(/[^\w.-]+/g, '_');
  return `${String(i + 1).padStart(4, '0')}-${name}`;
}

/**
 * For each image file: its answer, and for every layer its statistics and a PNG of its output
 * (OUT/NNNN-NAME/00-input.png, 01-LAYER.png, ...).
 */
export async function inspectImages(
  predictor: Predictor,
  files: readonly string[],
  outDir: string,
): Promise<Inspection[]> {
  const inspections: Inspection[] = [];
  for (const [i, file] of files.entries()) {
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile())
      throw new UserError(`${file}: ${info ? 'not a file' : 'no such file'} (inspect reads image files)`, file);
    const input = await predictor.preprocessBytes(new Uint8Array(await readFile(file)), file);
    const [prediction] = await predictor.predict([input]);
    const dir = join(outDir, folderName(file, i));
    const inputPng = join(dir, '00-input.png');
    const side = Math.round(Math.sqrt(input.pixels.length));
    const rgba = new Uint8ClampedArray(input.pixels.length * 4);
    input.pixels.forEach((v, p) => rgba.set([v, v, v, 255], p * 4));
    await writePng(inputPng, { width: side, height: side, rgba }, 4);
    const layers: LayerStats[] = [];
    for (const [k, layer] of layerActivations(predictor.model, input.input, 1).entries()) {
      const png = join(dir, `${String(k + 1).padStart(2, '0')}-${layer.name.replace(/[^\w.-]+/g, '_')}.png`);
      const maps = layer.shape.length === 3;
      const scale = maps ? Math.max(1, Math.round(MIN_SIDE / layer.shape[0])) : VECTOR_CELL;
      await writePng(png, mapsImage(quantiseView(layer.values, layer.shape)), scale);
      layers.push({ name: layer.name, className: layer.className, shape: layer.shape, ...stats(layer.values), png });
    }
    inspections.push({
      file,
      dir,
      digit: prediction.digit,
      confidence: prediction.confidence,
      ...(prediction.reason ? { reason: prediction.reason } : {}),
      input: inputPng,
      layers,
    });
  }
  return inspections;
}

import { join } from 'node:path';
import { loadOnnxRuntime, onnxSessionOptions } from '../backend/onnx-runner.js';
import { loadMnist } from '../data/load.js';
import { scalePixels } from '../data/model-input.js';
import { takeIndices } from '../data/split.js';
import { calibrationValues, quantizeOnnx, withOutputs, type ValueRange } from '../model/onnx-quantize.js';
import { readValIndices, RUN_FILES, type LoadedRun } from '../model/run.js';
import { UserError } from '../util/errors.js';

/**
 * The int8 copy of a run's ONNX export: its activation ranges measured by ONNX Runtime on the
 * float model over the run's validation images (val-indices.json, never the test set), then the
 * graph quantised by model/onnx-quantize.ts. export/onnx.ts writes it (`int8`), export/verify.ts
 * checks it (`verifyInt8OnTestImages`).
 */

/** Images per calibration call. */
const CALIBRATION_BATCH = 256;

export interface Int8Options {
  /** Folder with the run's IDX files (default: where training found them). */
  dataDir?: string;
  /** 7 (default) or 8 bits of weight precision (model/onnx-quantize.ts `QuantizeOptions`). */
  weightBits?: 7 | 8;
  /** ONNX Runtime threads for the calibration (default 2). */
  threads?: number;
}

/**
 * The min and max of each of `calibrationValues(floatBytes)` over `count` images (model inputs,
 * one after another, each of `shape`), computed by ONNX Runtime running the float model with those
 * values as extra outputs. A graph input's range is the images' own.
 */
export async function calibrateRanges(
  floatBytes: Uint8Array,
  images: Float32Array,
  count: number,
  shape: number[],
  options: { threads?: number } = {},
): Promise<Map<string, ValueRange>> {
  if (count < 1) throw new UserError('no images to calibrate the int8 ranges on');
  const values = calibrationValues(floatBytes);
  const ort = await loadOnnxRuntime();
  const session = await ort.InferenceSession.create(
    withOutputs(floatBytes, values),
    onnxSessionOptions(options.threads ?? 2),
  );
  const ranges = new Map<string, ValueRange>(values.map((v) => [v, { min: Infinity, max: -Infinity }]));
  const widen = (name: string, data: ArrayLike<number>) => {
    const range = ranges.get(name)!;
    for (let i = 0; i < data.length; i++) {
      if (data[i] < range.min) range.min = data[i];
      if (data[i] > range.max) range.max = data[i];
    }
  };
  try {
    const perImage = shape.reduce((a, b) => a * b, 1);
    const [inputName] = session.inputNames;
    const measured = values.filter((v) => v !== inputName);
    if (values.includes(inputName)) widen(inputName, images.subarray(0, count * perImage));
    for (let start = 0; start < count; start += CALIBRATION_BATCH) {
      const n = Math.min(CALIBRATION_BATCH, count - start);
      const input = new ort.Tensor('float32', images.subarray(start * perImage, (start + n) * perImage), [n, ...shape]);
      const result = await session.run({ [inputName]: input }, measured);
      for (const name of measured) widen(name, result[name].data as Float32Array);
    }
  } finally {
    await session.release();
  }
  return ranges;
}

/**
 * A run's float ONNX model (layersModelToOnnx of the run, as export/onnx.ts makes it) →
 * its int8 copy, calibrated on the run's validation split with the run's preprocessing.
 * Refuses (UserError) a run without val-indices.json: there is nothing else it may be calibrated on.
 */
export async function quantizeRunOnnx(
  floatBytes: Uint8Array,
  run: LoadedRun,
  options: Int8Options = {},
): Promise<Uint8Array> {
  const data = await loadMnist({ dataset: run.metadata.data?.dataset, dataDir: options.dataDir });
  const indices = await readValIndices(run.dir, data.train.count);
  if (!indices || indices.length === 0) {
    const path = join(run.dir, RUN_FILES.valIndices);
    throw new UserError(
      `${path} is missing or empty: an int8 copy is calibrated on the run's validation images, and this run held none out`,
      path,
    );
  }
  const val = takeIndices(data.train, indices);
  const images = scalePixels(val.images, undefined, run.metadata.preprocessing);
  const shape = run.model.inputs[0].shape.slice(1) as number[];
  const ranges = await calibrateRanges(floatBytes, images, val.count, shape, { threads: options.threads });
  return quantizeOnnx(floatBytes, ranges, {
    weightBits: options.weightBits,
    calibration: `min-max over the run's ${val.count} validation images (${RUN_FILES.valIndices})`,
  });
}

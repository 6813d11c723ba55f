import * as tf from '@tensorflow/tfjs';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { onnxSessionOptions } from '../backend/onnx-runner.js';
import { loadMnist } from '../data/load.js';
import { scalePixels } from '../data/model-input.js';
import type { LoadedRun } from '../model/run.js';
import { UserError } from '../util/errors.js';
import { softmaxHeads } from '../model/onnx-graph.js';
import { applyTemperature } from '../metrics/calibration.js';
import { accuracyAndLoss } from '../metrics/classification.js';

/**
 * The check of an export: run the ONNX model with ONNX Runtime (onnxruntime-node, its CPU build)
 * and the layers model with TensorFlow.js on the same images, and compare the probabilities.
 *
 * The tolerance, 1e-5 on any probability, is the issue's. What the two runtimes really differ by
 * is float32 rounding (other summation orders, ONNX Runtime's conv + batch-norm fusion). Measured
 * (wasm backend): the test suite's trained default net (one epoch on 6,000 images)
 * differs by at most 1.3e-6 over the 10,000 test images, and by 1.7e-6 with ONNX Runtime's graph
 * optimisations off, which is the size of the gap between two TensorFlow.js backends on the same
 * model (wasm against cpu: 1.3e-6); untrained nets, whose probabilities sit near 0.1, differ by
 * 3e-7 at most. So 1e-5 leaves 8x headroom and still fails on any real defect: a transposed
 * kernel, a wrong padding or flatten order moves probabilities by 1e-2 or more.
 */

/** Largest absolute difference allowed between a probability from ONNX Runtime and from TensorFlow.js. */
export const ONNX_TOLERANCE = 1e-5;
/** Images per call, for both runtimes: the project's inference batch. */
export const VERIFY_BATCH = 256;

export interface OnnxCheck {
  /** Images compared. */
  count: number;
  /** Largest |p_onnx - p_tfjs| over every image and class. */
  maxAbsDiff: number;
  /** Images whose most likely class is the same in both. */
  argmaxAgree: number;
  /** Wall-clock seconds of each runtime over all images (batching and copies included). */
  onnxSeconds: number;
  tfjsSeconds: number;
}

export interface VerifyOptions {
  /** The temperature folded into the ONNX model: the TensorFlow.js reference applies the same. */
  temperature?: number;
  /** ONNX Runtime intra-op threads (default 2: the project's machines have 2 cores). */
  threads?: number;
  batchSize?: number;
}

/** An ONNX Runtime session on the CPU, with `threads` intra-op threads and nothing in parallel between ops. */
export async function createOnnxSession(onnxBytes: Uint8Array, threads = 2): Promise<InferenceSession> {
  return InferenceSession.create(onnxBytes, onnxSessionOptions(threads));
}

function imageSize(model: tf.LayersModel): number[] {
  return model.inputs[0].shape.slice(1).map((d) => {
    if (d === null) throw new UserError(`model '${model.name}' has an input of unknown size`);
    return d;
  });
}

function checkImages(images: Float32Array, count: number, perImage: number): void {
  if (images.length < count * perImage)
    throw new UserError(`${count} images need ${count * perImage} values, got ${images.length}`);
}

/** The ONNX model's output for `count` images (NHWC float32, one after another), in batches. */
export async function onnxProbabilities(
  session: InferenceSession,
  shape: number[],
  images: Float32Array,
  count: number,
  batchSize = VERIFY_BATCH,
): Promise<Float32Array> {
  const perImage = shape.reduce((a, b) => a * b, 1);
  checkImages(images, count, perImage);
  const [inputName] = session.inputNames;
  const [outputName] = session.outputNames;
  const parts: Float32Array[] = [];
  for (let start = 0; start < count; start += batchSize) {
    const n = Math.min(batchSize, count - start);
    const input = new Tensor('float32', images.subarray(start * perImage, (start + n) * perImage), [n, ...shape]);
    const result = await session.run({ [inputName]: input });
    parts.push(result[outputName].data as Float32Array);
  }
  return concat(parts);
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((sum, p) => sum + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/**
 * TensorFlow.js's probabilities for `count` images, in batches. With a temperature: the model's
 * probabilities p become softmax(log p / T), by the very function the Predictor applies
 * (metrics/calibration.ts `applyTemperature`, float64 from tfjs's float32 p): for one network that
 * is softmax(logits / T) exactly (log p differs from the logits by a constant per image), for an
 * ensemble the mean's own calibration. Where p underflows to 0 the true value is below
 * exp(-87/T), far under the tolerance.
 */
export function tfjsProbabilities(
  model: tf.LayersModel,
  images: Float32Array,
  count: number,
  options: { temperature?: number; batchSize?: number } = {},
): Float32Array {
  const shape = imageSize(model);
  const perImage = shape.reduce((a, b) => a * b, 1);
  checkImages(images, count, perImage);
  const batchSize = options.batchSize ?? VERIFY_BATCH;
  const { temperature } = options;
  if (temperature !== undefined) {
    const heads = softmaxHeads(model);
    if (typeof heads === 'string')
      throw new UserError(`a temperature cannot be applied to model '${model.name}': ${heads}`);
  }
  const parts: Float32Array[] = [];
  for (let start = 0; start < count; start += batchSize) {
    const n = Math.min(batchSize, count - start);
    const output = tf.tidy(() => {
      const x = tf.tensor(images.subarray(start * perImage, (start + n) * perImage), [n, ...shape], 'float32');
      return (model.predict(x, { batchSize: n }) as tf.Tensor).dataSync() as Float32Array;
    });
    parts.push(temperature === undefined ? output : applyTemperature(output, temperature, output.length / n));
  }
  return concat(parts);
}

/** Max |a - b| and how many rows (of `classes`) have the same argmax. */
export function compareProbabilities(
  a: Float32Array,
  b: Float32Array,
  classes: number,
): { maxAbsDiff: number; argmaxAgree: number } {
  if (a.length !== b.length) throw new Error(`${a.length} probabilities against ${b.length}`);
  let maxAbsDiff = 0;
  let argmaxAgree = 0;
  for (let row = 0; row < a.length; row += classes) {
    let bestA = 0;
    let bestB = 0;
    for (let c = 0; c < classes; c++) {
      maxAbsDiff = Math.max(maxAbsDiff, Math.abs(a[row + c] - b[row + c]));
      if (a[row + c] > a[row + bestA]) bestA = c;
      if (b[row + c] > b[row + bestB]) bestB = c;
    }
    if (bestA === bestB) argmaxAgree++;
  }
  // NaN anywhere must fail the check, not slip through Math.max.
  if (a.some(Number.isNaN) || b.some(Number.isNaN)) maxAbsDiff = Number.NaN;
  return { maxAbsDiff, argmaxAgree };
}

/** Both runtimes' probabilities for the same images, and their wall-clock seconds. */
async function bothRuntimes(
  onnxBytes: Uint8Array,
  model: tf.LayersModel,
  images: Float32Array,
  count: number,
  options: VerifyOptions,
) {
  const session = await createOnnxSession(onnxBytes, options.threads ?? 2);
  try {
    const shape = imageSize(model);
    let start = performance.now();
    const onnx = await onnxProbabilities(session, shape, images, count, options.batchSize);
    const onnxSeconds = (performance.now() - start) / 1000;
    start = performance.now();
    const reference = tfjsProbabilities(model, images, count, options);
    const tfjsSeconds = (performance.now() - start) / 1000;
    return { onnx, reference, classes: reference.length / count, onnxSeconds, tfjsSeconds };
  } finally {
    await session.release();
  }
}

/**
 * Run `onnxBytes` with ONNX Runtime (batches of 256, `threads` intra-op threads, default 2) and
 * `model` with TensorFlow.js on the first `count` images, and compare. `images` are model inputs
 * (already scaled), NHWC, one after another. The backend must be started.
 */
export async function verifyOnnx(
  onnxBytes: Uint8Array,
  model: tf.LayersModel,
  images: Float32Array,
  count: number,
  options: VerifyOptions = {},
): Promise<OnnxCheck> {
  const { onnx, reference, classes, onnxSeconds, tfjsSeconds } = await bothRuntimes(
    onnxBytes,
    model,
    images,
    count,
    options,
  );
  return { count, ...compareProbabilities(onnx, reference, classes), onnxSeconds, tfjsSeconds };
}

/** Throw a UserError unless every probability is within ONNX_TOLERANCE and every argmax agrees. */
export function assertOnnxAgrees(check: OnnxCheck): void {
  if (!(check.maxAbsDiff <= ONNX_TOLERANCE) || check.argmaxAgree !== check.count) {
    throw new UserError(
      `the ONNX model does not reproduce the TensorFlow.js model: max probability difference ${check.maxAbsDiff.toExponential(2)} (allowed ${ONNX_TOLERANCE}), ` +
        `${check.count - check.argmaxAgree} of ${check.count} predicted classes differ`,
    );
  }
}

/** The run's test images (all 10,000 for MNIST), scaled by the run's own preprocessing spec, with their labels. */
async function runTestImages(
  run: LoadedRun,
  dataDir?: string,
): Promise<{ images: Float32Array; labels: Uint8Array; count: number }> {
  const data = await loadMnist({ dataset: run.metadata.data?.dataset, dataDir });
  return {
    images: scalePixels(data.test.images, undefined, run.metadata.preprocessing),
    labels: data.test.labels,
    count: data.test.count,
  };
}

/**
 * Verify an export on the run's test images (all 10,000 for MNIST), scaled by the run's own
 * preprocessing spec, with the run's temperature applied to the reference.
 */
export async function verifyOnTestImages(
  onnxBytes: Uint8Array,
  run: LoadedRun,
  options: { dataDir?: string; temperature?: number; threads?: number } = {},
): Promise<OnnxCheck> {
  const { images, count } = await runTestImages(run, options.dataDir);
  return verifyOnnx(onnxBytes, run.model, images, count, {
    temperature: options.temperature,
    threads: options.threads,
  });
}

/**
 * The check of an int8 copy (export/int8.ts): its probabilities are meant to differ from the
 * float model's by the rounding of weights and activations, so it is held to what that rounding
 * may cost, on the test images: the same answer as TensorFlow.js on at least INT8_MIN_AGREEMENT
 * of them, and a test accuracy at most INT8_MAX_ACCURACY_DROP below TensorFlow.js's (issue 23's
 * bar for shipping an int8 copy: within 0.05 points).
 */
export const INT8_MIN_AGREEMENT = 0.99;
export const INT8_MAX_ACCURACY_DROP = 0.0005;

export interface Int8Check extends OnnxCheck {
  /** Test accuracy (argmax over the ten digits) of the int8 model and of the TensorFlow.js model. */
  accuracy: number;
  referenceAccuracy: number;
}

/** Run an int8 copy and the run's TensorFlow.js model (with the run's temperature) on the run's test images, and compare answers and accuracy. */
export async function verifyInt8OnTestImages(
  onnxBytes: Uint8Array,
  run: LoadedRun,
  options: { dataDir?: string; temperature?: number; threads?: number } = {},
): Promise<Int8Check> {
  const { images, labels, count } = await runTestImages(run, options.dataDir);
  const { onnx, reference, classes, onnxSeconds, tfjsSeconds } = await bothRuntimes(
    onnxBytes,
    run.model,
    images,
    count,
    { temperature: options.temperature, threads: options.threads },
  );
  return {
    count,
    ...compareProbabilities(onnx, reference, classes),
    onnxSeconds,
    tfjsSeconds,
    accuracy: accuracyAndLoss(onnx, labels, classes).accuracy,
    referenceAccuracy: accuracyAndLoss(reference, labels, classes).accuracy,
  };
}

/** One line of what the check of an int8 copy found. */
export function describeInt8Check(check: Int8Check): string {
  const n = (k: number) => k.toLocaleString('en-US');
  const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
  return (
    `checked on ${n(check.count)} test images: ${n(check.argmaxAgree)} of ${n(check.count)} predicted classes equal (at least ${pct(INT8_MIN_AGREEMENT)} wanted), ` +
    `test accuracy ${pct(check.accuracy)} against TensorFlow.js's ${pct(check.referenceAccuracy)} (at most ${(100 * INT8_MAX_ACCURACY_DROP).toFixed(2)} points lower allowed)`
  );
}

/** Throw a UserError unless an int8 copy agrees with the model on INT8_MIN_AGREEMENT of the answers and loses at most INT8_MAX_ACCURACY_DROP of accuracy. */
export function assertInt8Agrees(check: Int8Check): void {
  const agreement = check.argmaxAgree / check.count;
  const drop = check.referenceAccuracy - check.accuracy;
  if (!(agreement >= INT8_MIN_AGREEMENT) || !(drop <= INT8_MAX_ACCURACY_DROP)) {
    const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
    throw new UserError(
      `the int8 model strays too far from the TensorFlow.js model: the same answer on ${pct(agreement)} of ${check.count} test images (at least ${pct(INT8_MIN_AGREEMENT)} wanted), ` +
        `test accuracy ${pct(check.accuracy)} against ${pct(check.referenceAccuracy)} (at most ${(100 * INT8_MAX_ACCURACY_DROP).toFixed(2)} points lower allowed)`,
    );
  }
}

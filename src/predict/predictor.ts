/**
 * A trained run, loaded once, reading batches of preprocessed digits.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendName } from '../backend/index.js';
import { loadRun, type RunMetadata } from '../model/run.js';
import { NUM_CLASSES } from '../data/types.js';
import { UserError } from '../util/errors.js';
import { PREPROCESS_SPEC, type PreprocessSpec, type Preprocessed } from './preprocess.js';

export interface Prediction {
  /** null when the input is not a digit, or the model is not sure enough. */
  digit: number | null;
  /** The highest probability. */
  confidence: number;
  /** All ten class probabilities. */
  probabilities: number[];
  /** Why `digit` is null: 'blank', 'no dominant stroke', or 'low confidence (0.31 < 0.5)'. */
  reason?: string;
}

export interface PredictorOptions {
  backend?: BackendName;
  /** Below this confidence the answer is `digit: null` instead of a likely wrong digit. */
  minConfidence?: number;
  /** Images per model call. */
  batchSize?: number;
}

export const DEFAULT_MIN_CONFIDENCE = 0.5;

export class Predictor {
  readonly minConfidence: number;
  private readonly batchSize: number;

  private constructor(
    readonly dir: string,
    readonly metadata: RunMetadata,
    private readonly model: tf.LayersModel,
    options: PredictorOptions,
  ) {
    this.minConfidence = options.minConfidence ?? DEFAULT_MIN_CONFIDENCE;
    this.batchSize = options.batchSize ?? 256;
    if (!(this.minConfidence >= 0 && this.minConfidence <= 1)) {
      throw new UserError(`minimum confidence ${options.minConfidence} is not between 0 and 1`);
    }
  }

  /** Start the backend (wasm unless told) and load a run folder (or runs/latest). */
  static async load(runDir: string, options: PredictorOptions = {}): Promise<Predictor> {
    await initBackend(options.backend ?? 'wasm');
    const run = await loadRun(runDir);
    return new Predictor(run.dir, run.metadata, run.model, options);
  }

  /** The preprocessing the model was trained with (every prediction must use it). */
  get spec(): PreprocessSpec {
    return this.metadata.preprocessing ?? PREPROCESS_SPEC;
  }

  /** Read preprocessed inputs in batches; every tensor is released. */
  predict(inputs: Preprocessed[]): Prediction[] {
    const [height, width, channels] = this.metadata.inputShape ?? [28, 28, 1];
    const size = height * width * channels;
    const out: Prediction[] = [];
    for (let start = 0; start < inputs.length; start += this.batchSize) {
      const batch = inputs.slice(start, start + this.batchSize);
      const x = new Float32Array(batch.length * size);
      batch.forEach((p, i) => {
        if (p.input.length !== size) throw new RangeError(`input ${start + i} has ${p.input.length} values, the model takes ${size}`);
        x.set(p.input, i * size);
      });
      const probs = tf.tidy(() => this.model.predict(tf.tensor4d(x, [batch.length, height, width, channels])) as tf.Tensor);
      const values = probs.dataSync();
      probs.dispose();
      batch.forEach((p, i) => out.push(this.interpret(values.subarray(i * NUM_CLASSES, (i + 1) * NUM_CLASSES), p.reason)));
    }
    return out;
  }

  private interpret(row: ArrayLike<number>, notADigit?: string): Prediction {
    const probabilities = Array.from(row, (p) => Number(p.toFixed(6)));
    const best = argmax(probabilities);
    const confidence = probabilities[best];
    if (notADigit) return { digit: null, confidence, probabilities, reason: notADigit };
    if (confidence < this.minConfidence) {
      return { digit: null, confidence, probabilities, reason: `low confidence (${confidence.toFixed(2)} < ${this.minConfidence})` };
    }
    return { digit: best, confidence, probabilities };
  }

  dispose(): void {
    this.model.dispose();
  }
}

export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let k = 1; k < values.length; k++) if (values[k] > values[best]) best = k;
  return best;
}

/** The k most likely digits, most likely first. */
export function topK(probabilities: number[], k: number): { digit: number; probability: number }[] {
  return probabilities
    .map((probability, digit) => ({ digit, probability }))
    .sort((a, b) => b.probability - a.probability || a.digit - b.digit)
    .slice(0, Math.max(1, Math.min(k, probabilities.length)));
}

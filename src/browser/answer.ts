/**
 * How the browser turns a model's probabilities into answers, as Predictor does in Node: the
 * run's preprocessing spec, its calibration temperature (metrics/calibration.ts) and the one
 * answer rule (predict/interpret.ts). Free of TensorFlow.js, so that the draw-a-digit page
 * bundles it without the model's chunk.
 */
import { PREPROCESS_SPEC, type PreprocessSpec } from '../data/model-input.js';
import type { Preprocessed } from '../image/preprocess.js';
import { applyTemperature } from '../metrics/calibration.js';
import {
  answerRule,
  DEFAULT_MIN_CONFIDENCE,
  interpretProbabilities,
  type AnswerRule,
  type Prediction,
  type SetRule,
} from '../predict/interpret.js';
import type { BrowserModel } from './model.js';

/** What turns a model's probabilities into answers: the run's spec, temperature and rule. */
export interface AnswerSettings {
  spec: PreprocessSpec;
  temperature: number;
  rule: AnswerRule;
}

/** The fields of a run's metadata.json read here (model/run.ts `RunMetadata`). */
export interface ModelMetadata {
  arch: string;
  params: number;
  classNames: string[];
  preprocessing?: PreprocessSpec;
  temperature?: number;
  nonDigitRule?: { below: number };
  /** The prediction sets' thresholds and the temperature they were fitted at (model/run.ts `PredictionSetRecord`). */
  predictionSets?: SetRule & { temperature: number };
  test?: { accuracy: number };
  createdAt: string;
  finishedAt?: string;
}

/** A run's metadata → the settings its answers are read with, as Predictor reads them in Node. */
export function settingsOf(
  metadata: ModelMetadata,
  minConfidence = DEFAULT_MIN_CONFIDENCE,
  where = 'metadata.json',
): AnswerSettings {
  if (!(minConfidence >= 0 && minConfidence <= 1))
    throw new Error(`minimum confidence ${minConfidence} is not between 0 and 1`);
  const temperature = metadata.temperature ?? 1;
  if (!(typeof temperature === 'number' && Number.isFinite(temperature) && temperature > 0))
    throw new Error(`${where}: temperature ${JSON.stringify(temperature)} is not a positive number`);
  return {
    spec: metadata.preprocessing ?? PREPROCESS_SPEC,
    temperature,
    rule: answerRule(minConfidence, temperature, metadata.nonDigitRule, metadata.predictionSets),
  };
}

/** One preprocessed input's answer: the model's probabilities, calibrated, through the one rule. */
export function answerWith(model: BrowserModel, settings: AnswerSettings, input: Preprocessed): Prediction {
  const raw = model.probabilities(input.input);
  const probabilities = settings.temperature === 1 ? raw : applyTemperature(raw, settings.temperature, raw.length);
  return interpretProbabilities(probabilities, settings.rule, input.reason);
}

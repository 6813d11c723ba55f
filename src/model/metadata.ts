/**
 * What a run's metadata.json holds (model/run.ts reads and writes it in a run folder): types
 * only, free of Node's modules, so that the page's Train panel writes the same metadata for a
 * model trained in a browser.
 */
import type { DataSource, DatasetName, FileRecord } from '../data/types.js';
import type { PreprocessSpec } from '../data/model-input.js';

export interface RunMetadata {
  format: 'mnist-cnn-run';
  formatVersion: 1;
  arch: string;
  params: number;
  createdAt: string;
  finishedAt?: string;
  seed: number;
  /** The final merged training config (same as config.json). */
  config: Record<string, unknown>;
  versions: Record<string, string>;
  backend: string;
  data: {
    dataset: DatasetName;
    source: DataSource;
    files: FileRecord[];
    trainCount: number;
    valCount: number;
    testCount: number;
  };
  preprocessing: PreprocessSpec;
  classNames: string[];
  inputShape: [number, number, number];
  epochsCompleted: number;
  bestEpoch: number;
  bestValAccuracy: number;
  trainingSeconds: number;
  /** SHA-256 (hex) of weights.bin, checked when the run is loaded; absent in runs made before it was recorded. */
  weightsSha256?: string;
  /** Test-set figures, once evaluated; `tta` when with test-time augmentation. */
  test?: { accuracy: number; loss: number; n: number; tta?: boolean };
  /**
   * The calibration temperature T: every answer's probabilities are softmax(log p / T)
   * (metrics/calibration.ts), fitted after training on the validation split by minimising its
   * NLL. Absent in runs made before calibration: T = 1 (`runTemperature`).
   */
  temperature?: number;
  /** How `temperature` was found: on which images, and the scores before and after it there. */
  temperatureFit?: TemperatureFitRecord;
  /**
   * The "not a digit" rule of a run trained with non-digits (`nonDigits` > 0): answers whose
   * not-a-digit score (predict/interpret.ts `notADigitScore`) is below `below` are `digit: null`. Fitted after training on validation data
   * only (predict/non-digit-rule.ts); the rates say how it did there.
   */
  nonDigitRule?: NonDigitRuleRecord;
  /**
   * The prediction sets' thresholds (predict/interpret.ts `SetRule`), fitted after training on the
   * validation digits by split conformal prediction (predict/prediction-sets.ts), for the answers'
   * probabilities at `temperature`.
   */
  predictionSets?: PredictionSetRecord;
  /** An ensemble (arch 'ensemble'): the run folders it averages, and their seeds. */
  members?: string[];
  memberSeeds?: number[];
  /** A run made by `mnist-cnn finetune` from another run and a folder of corrections. */
  finetune?: FinetuneRecord;
}

/** Scores of answers on a set of labelled digits (a fine-tuned run's held-out corrections). */
export interface AnswerScores {
  /** Digits answered. */
  n: number;
  /** Share answered with the right digit (a refusal counts as wrong). */
  accuracy: number;
  /** Share answered `digit: null`. */
  refused: number;
}

/** metadata.json's `finetune` (see RunMetadata), written by train/finetune.ts. */
export interface FinetuneRecord {
  /** The run it started from: its real folder, the shipped model's name if it is one, its weights and test figures then. */
  base: { dir: string; shipped?: string; weightsSha256?: string; test?: RunMetadata['test'] };
  /** The corrections: their folder, SHA-256 of what was read (data/corrections.ts), and how many of each class (0-9, then "not a digit"). */
  data: { dir: string; sha256: string; perClass: number[] };
  /** The corrections held out (digits, stratified) and the base's and this run's answers on them. */
  holdout: { count: number; before?: AnswerScores; after?: AnswerScores };
  /**
   * What each epoch trained on: the corrections not held out, `copies` times each, among
   * `rehearsal` images of the base run's own training split (so that it does not forget them),
   * making `share` of the digits; non-digit pictures as the base trained with them.
   */
  mix: { corrections: number; copies: number; rehearsal: number; share: number; nonDigitPictures: number };
  /** The settings of the fine-tuning (train/finetune.ts FinetuneSettings). */
  settings: Record<string, number>;
}

/** metadata.json's `nonDigitRule` (see RunMetadata). */
export interface NonDigitRuleRecord {
  /**
   * Threshold on the not-a-digit score of the model's own probabilities (temperature 1): with the
   * 11th output, ln p(best digit) − ln p(not a digit); in runs trained with outlier exposure
   * before it, the stand-out, top logit minus mean logit (predict/interpret.ts `notADigitScore`).
   * The Predictor divides it by the temperature.
   */
  below: number;
  /** Share of validation digits and of validation non-digits (image/non-digits.ts, never the test split) refused. */
  digitsRefused: number;
  nonDigitsRefused: number;
  digits: number;
  nonDigits: number;
}

/** metadata.json's `predictionSets` (see RunMetadata). */
export interface PredictionSetRecord {
  /** In words: how the thresholds were fitted. */
  method: string;
  /** The share of digits whose set holds the true one, asked of each group. */
  coverage: number;
  /** The temperature of the probabilities the thresholds apply to (the run's). */
  temperature: number;
  /** Answers whose top digit's share is below this are `unsure`; the others `sure`. */
  unsureBelow: number;
  /** The probability (of the ten digits' shares) a digit needs to join the top one in a `sure` answer's set. */
  sure: number;
  /** The same, in an `unsure` answer's set. */
  unsure: number;
  /** Validation digits per group the thresholds were fitted on. */
  n: { sure: number; unsure: number };
  /** The sets on those validation digits (in-sample): coverage, mean size, sizes, and digits refused as no digit (empty sets). */
  validation: { coverage: number; meanSize: number; sizes: Record<string, number>; emptySets: number; digits: number };
}

/** ECE, NLL and Brier score (metrics/calibration.ts `CalibrationScores`). */
interface CalibrationScoresRecord {
  ece: number;
  nll: number;
  brier: number;
}

/**
 * metadata.json's `temperatureFit`: fitted on `n` validation images (`on: 'val'`), or not fitted
 * (`on: 'none'`, T = 1) and why: a run without a validation split (`valCount` 0, the `fast`
 * preset), an ensemble whose members held out different images.
 */
export type TemperatureFitRecord =
  | { on: 'val'; n: number; before: CalibrationScoresRecord; after: CalibrationScoresRecord }
  | { on: 'none'; reason: string };

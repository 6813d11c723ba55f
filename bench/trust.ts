/**
 * The `trust` part of `npm run bench` (issue 13, "answers people can trust"): how far a run's
 * answers can be taken at their word: calibration (the run's temperature and the test ECE, NLL
 * and Brier score before and after it, with the accuracy, which the temperature cannot change)
 * and open-set recognition (non-digits refused per category, MNIST digits refused). Each kind of figure is one section of `TrustFigures`,
 * computed by a function of its own: a new one (e.g. non-digit rejection) is a new field and a
 * new function, called from `trustFigures`.
 *
 *   npm run bench -- --only trust --json [--run runs/latest]
 */
import { cpus } from 'node:os';
import { evaluateRun } from '../src/evaluate/evaluate.js';
import { readMetadata, resolveRunDir, type TemperatureFitRecord } from '../src/model/run.js';
import type { CalibrationScores } from '../src/metrics/calibration.js';
import { nonDigitFigures, type NonDigitFigures } from './non-digits.js';

export const DEFAULT_TRUST_RUN = 'runs/latest';

export interface CalibrationFigures {
  /** The run's temperature (metadata.json; 1 when it has none). */
  temperature: number;
  /** Where it came from: fitted on the validation split, or why not. */
  fit: TemperatureFitRecord | null;
  /** Test images scored. */
  n: number;
  /** Test accuracy: argmax, the same before and after the temperature. */
  accuracy: number;
  /** Test accuracy of the model's own probabilities (must equal `accuracy`). */
  accuracyBefore: number;
  /** Test ECE (15 bins), NLL and Brier score of the model's probabilities (before) and of the answers (after). */
  before: CalibrationScores;
  after: CalibrationScores;
  /** The issue's target: test ECE after ≤ 0.5%. */
  eceTarget: number;
  eceTargetMet: boolean;
}

/** What `trust` reports for a run: one field per kind of figure. */
export interface TrustFigures {
  run: string;
  arch: string;
  cpu: string;
  calibration: CalibrationFigures;
  /** Open-set recognition: the generated non-digit test split, MNIST test digits, digit pictures (bench/non-digits.ts). */
  openSet: NonDigitFigures;
}

const ECE_TARGET = 0.005;

/** The run's calibration on its test set, through `evaluate` (nothing written into the run folder). */
export async function calibrationFigures(runDir: string, options: { threads?: number } = {}): Promise<CalibrationFigures> {
  const meta = await readMetadata(runDir);
  const { metrics } = await evaluateRun(runDir, { write: false, plots: false, threads: options.threads });
  const scores = metrics.calibrationScores;
  if (!scores || metrics.temperature === undefined || !metrics.calibrationBefore) throw new Error('evaluate did not score calibration');
  const rightBefore = metrics.calibrationBefore.reduce((sum, bin) => sum + bin.count * bin.accuracy, 0);
  return {
    temperature: metrics.temperature,
    fit: meta.temperatureFit ?? null,
    n: metrics.n,
    accuracy: metrics.accuracy,
    accuracyBefore: Math.round(rightBefore) / metrics.n,
    before: scores.before,
    after: scores.after,
    eceTarget: ECE_TARGET,
    eceTargetMet: scores.after.ece <= ECE_TARGET,
  };
}

/** Every trust figure of a run (default runs/latest), as one object under `trust`. */
export async function trustFigures(runDir = DEFAULT_TRUST_RUN, options: { threads?: number } = {}): Promise<{ trust: TrustFigures }> {
  const dir = resolveRunDir(runDir);
  const meta = await readMetadata(dir);
  return {
    trust: {
      run: dir,
      arch: meta.arch,
      cpu: cpus()[0]?.model ?? 'unknown',
      calibration: await calibrationFigures(dir, { threads: options.threads ?? Math.min(2, cpus().length) }),
      openSet: await nonDigitFigures(dir, { threads: options.threads ?? Math.min(2, cpus().length) }),
    },
  };
}

/** The text output (without --json): one line per figure. */
export function trustLines(trust: TrustFigures): string[] {
  const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
  const c = trust.calibration;
  const o = trust.openSet;
  return [
    `trust, ${trust.run} (${trust.arch}), MNIST test set (${c.n} images):`,
    `  accuracy ${pct(c.accuracy)} (before the temperature: ${pct(c.accuracyBefore)})`,
    `  temperature ${c.temperature.toFixed(4)} (${c.fit?.on === 'val' ? `fitted on ${c.fit.n} validation images` : c.fit ? c.fit.reason : 'none recorded'})`,
    `  ECE ${pct(c.before.ece)} → ${pct(c.after.ece)} (target ≤ ${pct(c.eceTarget)}: ${c.eceTargetMet ? 'met' : 'not met'}), NLL ${c.before.nll.toFixed(4)} → ${c.after.nll.toFixed(4)}, Brier ${c.before.brier.toFixed(4)} → ${c.after.brier.toFixed(4)}`,
    `  non-digits refused ${pct(o.nonDigits.refused)} of ${o.nonDigits.n} (${Object.entries(o.nonDigits.byCategory).map(([k, v]) => `${k} ${pct(v.refused)}`).join(', ')})`,
    `  MNIST test digits refused ${pct(o.mnistTest.refused)}, accuracy on the answered ${pct(o.mnistTest.accuracyAnswered)}, argmax ${pct(o.mnistTest.accuracyArgmax)}`,
    `  targets: ${Object.entries(o.targets).map(([k, v]) => `${k} ${v.met ? 'met' : 'NOT met'}`).join(', ')}`,
  ];
}

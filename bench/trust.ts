/**
 * The `trust` part of `npm run bench` (issues 13 and 26, "answers people can trust"): how far a
 * run's answers can be taken at their word. All of it comes from one `evaluate` of the test set
 * (evaluate/evaluate.ts, its `trust` figures: evaluate/trust.ts), nothing written into the run:
 * - calibration: the run's temperature, test ECE, NLL and Brier before and after it, accuracy;
 * - open-set recognition: the generated non-digits' test split refused per category, MNIST test
 *   digits refused and the accuracy of the answered; printed and photographed digits per kind
 *   (bench/non-digits.ts);
 * - prediction sets: coverage and sizes on the test set and on its digits as pictures;
 * - risk-coverage: the curve's area, and the answers at the default minimum confidence, on both.
 *
 *   npm run bench -- --only trust --json [--run runs/latest]
 */
import { cpus, loadavg } from 'node:os';
import { evaluateRun, type EvaluationReport } from '../src/evaluate/evaluate.js';
import type { DigitTrust, NonDigitTrust } from '../src/evaluate/trust.js';
import type { CalibrationScores } from '../src/metrics/calibration.js';
import {
  readMetadata,
  resolveRunDir,
  type NonDigitRuleRecord,
  type PredictionSetRecord,
  type TemperatureFitRecord,
} from '../src/model/run.js';
import { OPEN_SET_TARGETS, digitKindFigures, type DigitKindFigures } from './non-digits.js';

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
}

/** The digits of a set (MNIST test, or its pictures): what the answers do at the default minimum confidence, risk-coverage, sets. */
export interface DigitFigures {
  n: number;
  /** Share answered `null` at the default minimum confidence (as not a digit, or not sure). */
  refused: number;
  /** Accuracy of the answered ones. */
  accuracyAnswered: number;
  /** Area under the risk-coverage curve, and the highest share answered (those not refused as no digit). */
  aurc: number;
  maxCoverage: number;
  /** The lowest minimum confidence keeping the answered right 99.5% of the time, on this set (for reference: the default is chosen on validation). */
  forTarget: DigitTrust['forTarget'] | null;
  /** Prediction sets: coverage (an empty set of a refused digit counts as a miss), mean size of the non-empty ones, sizes. */
  sets: {
    coverage: number;
    coverageAnswered: number;
    meanSize: number;
    sizes: Record<string, number>;
    unsure: { n: number; coverage: number; meanSize: number };
  } | null;
}

/** What `trust` reports for a run. */
export interface TrustFigures {
  run: string;
  arch: string;
  cpu: string;
  /** The 1-minute load average when the measuring started and ended (the machine is shared). */
  load: { start: number; end: number };
  /** The run's seed, epochs and training time (metadata.json), seconds. */
  seed: number;
  epochs: number;
  trainingSeconds: number;
  minConfidence: number;
  calibration: CalibrationFigures;
  nonDigitRule: NonDigitRuleRecord | null;
  predictionSets: PredictionSetRecord | null;
  /** The generated non-digits' test split (evaluate/trust.ts), without the lists of answered pictures. */
  nonDigits:
    | (Omit<NonDigitTrust, 'byCategory'> & {
        byCategory: Record<string, { n: number; refused: number; reasons: Record<string, number> }>;
      })
    | null;
  mnistTest: DigitFigures & { accuracyArgmax: number };
  /** MNIST test digits as people's pictures of them (image/digit-pictures.ts). */
  picturedTest: DigitFigures;
  /** Printed and photographed digits per kind (bench/non-digits.ts). */
  digitKinds: DigitKindFigures;
  /**
   * The validation split (MNIST digits and their pictures), where the default minimum confidence
   * is chosen: the answers at it, and the lowest one keeping the answered right 99.5% of the time
   * on both together.
   */
  validation: {
    n: number;
    atDefault: { digits: DigitTrust['atDefault']; pictured: DigitTrust['atDefault'] };
    forTargetBoth: DigitTrust['forTarget'] | null;
  };
  /** Issue 26's targets (and issue 13's that still hold), and whether they are met. */
  targets: Record<string, { target: number; value: number; met: boolean }>;
}

const TARGETS = {
  ...OPEN_SET_TARGETS,
  testAccuracy: 0.9945,
  testEce: 0.005,
  setCoverage: 0.99,
  setMeanSize: 1.05,
  picturedAccuracyAnswered: 0.995,
} as const;

function digitFigures(t: DigitTrust): DigitFigures {
  const s = t.sets;
  return {
    n: t.n,
    refused: t.atDefault.refused,
    accuracyAnswered: t.atDefault.accuracy,
    aurc: t.riskCoverage.aurc,
    maxCoverage: t.riskCoverage.maxCoverage,
    forTarget: t.forTarget ?? null,
    sets: s
      ? {
          coverage: s.coverage,
          coverageAnswered: s.coverageAnswered,
          meanSize: s.meanSize,
          sizes: s.sizes,
          unsure: s.groups.unsure,
        }
      : null,
  };
}

/** The targets, from the figures. */
function targets(
  m: EvaluationReport,
  mnistTest: DigitFigures,
  picturedTest: DigitFigures,
  nonDigits: TrustFigures['nonDigits'],
): TrustFigures['targets'] {
  const atLeast = (target: number, value: number) => ({ target, value, met: value >= target });
  const atMost = (target: number, value: number) => ({ target, value, met: value <= target });
  const worst = nonDigits ? Math.min(...Object.values(nonDigits.byCategory).map((c) => c.refused)) : 0;
  return {
    everyCategoryRefused: atLeast(TARGETS.everyCategoryRefused, worst),
    nonDigitsRefused: atLeast(TARGETS.nonDigitsRefused, nonDigits?.refused ?? 0),
    mnistTestRefused: atMost(TARGETS.mnistTestRefused, mnistTest.refused),
    testAccuracy: atLeast(TARGETS.testAccuracy, m.accuracy),
    testEce: atMost(TARGETS.testEce, m.calibrationScores?.after.ece ?? Infinity),
    setCoverage: atLeast(TARGETS.setCoverage, mnistTest.sets?.coverage ?? 0),
    setMeanSize: atMost(TARGETS.setMeanSize, mnistTest.sets?.meanSize ?? Infinity),
    picturedAccuracyAnswered: atLeast(TARGETS.picturedAccuracyAnswered, picturedTest.accuracyAnswered),
  };
}

/** Every trust figure of a run (default runs/latest), as one object under `trust`. */
export async function trustFigures(
  runDir = DEFAULT_TRUST_RUN,
  options: { threads?: number } = {},
): Promise<{ trust: TrustFigures }> {
  const dir = resolveRunDir(runDir);
  const meta = await readMetadata(dir);
  const threads = options.threads ?? Math.min(2, cpus().length);
  const loadAtStart = loadavg()[0];
  const { metrics: m } = await evaluateRun(dir, { write: false, plots: false, threads });
  const { metrics: val } = await evaluateRun(dir, {
    split: 'val',
    write: false,
    plots: false,
    threads,
    trust: { nonDigits: false },
  });
  if (!val.trust) throw new Error('evaluate did not score trust on the validation split');
  const scores = m.calibrationScores;
  const trust = m.trust;
  if (!scores || m.temperature === undefined || !m.calibrationBefore || !trust)
    throw new Error('evaluate did not score calibration and trust');
  const rightBefore = m.calibrationBefore.reduce((sum, bin) => sum + bin.count * bin.accuracy, 0);
  const mnistTest = { ...digitFigures(trust.digits), accuracyArgmax: m.accuracy };
  const picturedTest = digitFigures(trust.pictured);
  const nonDigits = trust.nonDigits
    ? {
        ...trust.nonDigits,
        byCategory: Object.fromEntries(
          Object.entries(trust.nonDigits.byCategory).map(([c, { n, refused, reasons }]) => [
            c,
            { n, refused, reasons },
          ]),
        ),
      }
    : null;
  return {
    trust: {
      run: dir,
      arch: meta.arch,
      cpu: cpus()[0]?.model ?? 'unknown',
      load: { start: loadAtStart, end: loadavg()[0] },
      seed: meta.seed,
      epochs: meta.epochsCompleted,
      trainingSeconds: meta.trainingSeconds,
      minConfidence: trust.minConfidence,
      calibration: {
        temperature: m.temperature,
        fit: meta.temperatureFit ?? null,
        n: m.n,
        accuracy: m.accuracy,
        accuracyBefore: Math.round(rightBefore) / m.n,
        before: scores.before,
        after: scores.after,
      },
      nonDigitRule: meta.nonDigitRule ?? null,
      predictionSets: meta.predictionSets ?? null,
      nonDigits,
      mnistTest,
      picturedTest,
      digitKinds: await digitKindFigures(dir, { threads }),
      validation: {
        n: val.n,
        atDefault: { digits: val.trust.digits.atDefault, pictured: val.trust.pictured.atDefault },
        forTargetBoth: val.trust.forTargetBoth ?? null,
      },
      targets: targets(m, mnistTest, picturedTest, nonDigits),
    },
  };
}

/** The text output (without --json): one line per figure. */
export function trustLines(trust: TrustFigures): string[] {
  const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
  const c = trust.calibration;
  const digits = (name: string, d: DigitFigures) =>
    `  ${name}: refused ${pct(d.refused)}, accuracy on the answered ${pct(d.accuracyAnswered)} (min confidence ${trust.minConfidence}), AURC ${d.aurc.toFixed(5)}` +
    (d.sets
      ? `; sets: coverage ${pct(d.sets.coverage)}, mean size ${d.sets.meanSize.toFixed(3)}, sizes ${JSON.stringify(d.sets.sizes)}`
      : '');
  return [
    `trust, ${trust.run} (${trust.arch}), MNIST test set (${c.n} images):`,
    `  accuracy ${pct(c.accuracy)} (before the temperature: ${pct(c.accuracyBefore)})`,
    `  temperature ${c.temperature.toFixed(4)} (${c.fit?.on === 'val' ? `fitted on ${c.fit.n} validation images` : c.fit ? c.fit.reason : 'none recorded'})`,
    `  ECE ${pct(c.before.ece)} → ${pct(c.after.ece)}, NLL ${c.before.nll.toFixed(4)} → ${c.after.nll.toFixed(4)}, Brier ${c.before.brier.toFixed(4)} → ${c.after.brier.toFixed(4)}`,
    trust.nonDigits
      ? `  non-digits refused ${pct(trust.nonDigits.refused)} (${Object.entries(trust.nonDigits.byCategory)
          .map(([k, v]) => `${k} ${pct(v.refused)}`)
          .join(', ')})`
      : '  non-digits: the run cannot say "not a digit"',
    digits('MNIST test', trust.mnistTest),
    digits('MNIST test as pictures', trust.picturedTest),
    `  validation (${trust.validation.n} digits and their pictures): the answered right ${pct(trust.validation.forTargetBoth?.accuracy ?? 0)} from minimum confidence ${trust.validation.forTargetBoth?.threshold.toFixed(3) ?? '-'} (the default is ${trust.minConfidence})`,
    `  targets: ${Object.entries(trust.targets)
      .map(([k, v]) => `${k} ${v.met ? 'met' : 'NOT met'}`)
      .join(', ')}`,
  ];
}

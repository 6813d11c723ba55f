/**
 * "Not a digit" figures of a run (issue 13's open-set targets), for the bench part `trust`
 * (bench/trust.ts calls `nonDigitFigures`) and on its own:
 *
 *   npx tsx bench/non-digits.ts RUN_DIR [--per-category 100] [--per-kind 60] [--json]
 *
 * - the generated non-digits' TEST split (image/non-digits.ts; other seeds, fonts and shapes than
 *   anything the run trained or fitted its threshold on), read the way `predict` reads a picture:
 *   the share answered `null`, overall and per category, and the reasons;
 * - the 10,000 MNIST test digits: the share answered `null`, the accuracy on the answered ones,
 *   and the argmax accuracy;
 * - printed, photographed and re-drawn digits (test/helpers/digit-pictures.ts, as bench/predict-kinds.ts):
 *   per kind, the share read right and the share answered `null`.
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { loadMnist } from '../src/data/load.js';
import { PIXELS, NUM_CLASSES } from '../src/data/types.js';
import { NON_DIGIT_CATEGORIES, drawNonDigit, nonDigitRng, type NonDigitCategory } from '../src/image/non-digits.js';
import { argmax } from '../src/predict/interpret.js';
import { Predictor } from '../src/predict/predictor.js';
import { createRng } from '../src/util/rng.js';
import { FONTS, MNIST_KINDS, PRINTED_KINDS, mnistAs, printedAs } from '../test/helpers/digit-pictures.js';

export interface NonDigitFigures {
  run: string;
  /** The run's fitted threshold (metadata.json nonDigitRule), if any, and its temperature. */
  notADigitBelow: number | null;
  temperature: number;
  nonDigits: {
    split: 'test';
    n: number;
    refused: number;
    byCategory: Record<NonDigitCategory, { n: number; refused: number; reasons: Record<string, number> }>;
  };
  mnistTest: { n: number; refused: number; accuracyAnswered: number; accuracyArgmax: number };
  /** Per kind of digit picture: share read right, share answered null. */
  digitKinds: Record<string, { n: number; correct: number; refused: number }>;
  /** Issue 13's targets, and whether they hold. */
  targets: {
    nonDigitsRefused: { target: number; met: boolean };
    everyCategoryRefused: { target: number; met: boolean };
    mnistTestRefused: { target: number; met: boolean };
    mnistAccuracyAnswered: { target: number; met: boolean };
  };
}

const TARGETS = { nonDigitsRefused: 0.95, everyCategoryRefused: 0.9, mnistTestRefused: 0.005, mnistAccuracyAnswered: 0.996 } as const;

/** Reason without its numbers: 'not a digit (confidence 0.31 < 0.62)' → 'not a digit'. */
const reasonKind = (reason: string) => reason.replace(/\s*\(.*\)$/, '');

/** `onnxFile`: measure this ONNX file `export` wrote of the run (e.g. its int8 copy) instead of the run's model (Predictor.fromOnnxFile). */
export async function nonDigitFigures(runDir: string, options: { perCategory?: number; perKind?: number; threads?: number; seed?: number; onnxFile?: Uint8Array } = {}): Promise<NonDigitFigures> {
  const perCategory = options.perCategory ?? 100;
  const perKind = options.perKind ?? 60;
  const seed = options.seed ?? 1;
  const threads = options.threads ?? 2;
  const predictor = options.onnxFile ? await Predictor.fromOnnxFile(runDir, options.onnxFile, { threads }) : await Predictor.load(runDir, { threads });
  if (!predictor) throw new Error('ONNX Runtime does not load here: the ONNX file cannot be measured');
  try {
    // Non-digits of the test split, one picture at a time through the run's own preprocessing.
    const byCategory = {} as NonDigitFigures['nonDigits']['byCategory'];
    for (const category of NON_DIGIT_CATEGORIES) {
      const inputs = [];
      for (let n = 0; n < perCategory; n++) inputs.push(predictor.preprocess(await drawNonDigit(category, 'test', nonDigitRng('test', seed, category, n))));
      const answers = await predictor.predict(inputs);
      const reasons: Record<string, number> = {};
      for (const a of answers) if (a.digit === null) reasons[reasonKind(a.reason ?? '')] = (reasons[reasonKind(a.reason ?? '')] ?? 0) + 1;
      byCategory[category] = { n: answers.length, refused: answers.filter((a) => a.digit === null).length / answers.length, reasons };
    }
    const total = NON_DIGIT_CATEGORIES.reduce((s, c) => s + byCategory[c].refused * byCategory[c].n, 0);

    // MNIST test digits: the answer rule on the calibrated probabilities.
    const data = await loadMnist();
    const probs = await predictor.probabilities(data.test);
    let refused = 0;
    let answeredRight = 0;
    let argmaxRight = 0;
    for (let i = 0; i < data.test.count; i++) {
      const row = probs.subarray(i * predictor.outputs, (i + 1) * predictor.outputs);
      if (argmax(row, NUM_CLASSES) === data.test.labels[i]) argmaxRight++;
      const answer = predictor.interpret(row);
      if (answer.digit === null) refused++;
      else if (answer.digit === data.test.labels[i]) answeredRight++;
    }
    const n = data.test.count;

    // Pictures of digits as people hand them in.
    const digitKinds: NonDigitFigures['digitKinds'] = {};
    const rng = createRng(seed);
    const step = Math.floor(n / perKind);
    const add = async (kind: string, label: number, bytes: Uint8Array, ext: string) => {
      const [answer] = await predictor.predict([await predictor.preprocessBytes(bytes, `picture${ext}`)]);
      const k = (digitKinds[kind] ??= { n: 0, correct: 0, refused: 0 });
      k.n++;
      if (answer.digit === null) k.refused++;
      else if (answer.digit === label) k.correct++;
    };
    for (let j = 0; j < perKind; j++) {
      const i = j * step;
      const pixels = data.test.images.subarray(i * PIXELS, (i + 1) * PIXELS);
      for (const kind of MNIST_KINDS) {
        const g = await mnistAs(kind, pixels, data.test.labels[i], rng);
        await add(kind, g.label, g.bytes, g.ext);
      }
      for (const kind of PRINTED_KINDS) {
        const g = await printedAs(kind, j % 10, FONTS[Math.floor(j / 10) % FONTS.length], rng);
        await add(kind, g.label, g.bytes, g.ext);
      }
    }
    for (const k of Object.values(digitKinds)) {
      k.correct /= k.n;
      k.refused /= k.n;
    }
    const refusedShare = total / (perCategory * NON_DIGIT_CATEGORIES.length);
    const mnistTest = { n, refused: refused / n, accuracyAnswered: answeredRight / Math.max(1, n - refused), accuracyArgmax: argmaxRight / n };
    return {
      run: predictor.dir,
      notADigitBelow: predictor.rule.notADigitBelow ?? null,
      temperature: predictor.temperature,
      nonDigits: { split: 'test', n: perCategory * NON_DIGIT_CATEGORIES.length, refused: refusedShare, byCategory },
      mnistTest,
      digitKinds,
      targets: {
        nonDigitsRefused: { target: TARGETS.nonDigitsRefused, met: refusedShare >= TARGETS.nonDigitsRefused },
        everyCategoryRefused: { target: TARGETS.everyCategoryRefused, met: NON_DIGIT_CATEGORIES.every((c) => byCategory[c].refused >= TARGETS.everyCategoryRefused) },
        mnistTestRefused: { target: TARGETS.mnistTestRefused, met: mnistTest.refused <= TARGETS.mnistTestRefused },
        mnistAccuracyAnswered: { target: TARGETS.mnistAccuracyAnswered, met: mnistTest.accuracyAnswered >= TARGETS.mnistAccuracyAnswered },
      },
    };
  } finally {
    await predictor.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { 'per-category': { type: 'string', default: '100' }, 'per-kind': { type: 'string', default: '60' }, json: { type: 'boolean' } },
  });
  if (positionals.length !== 1) {
    console.error('usage: npx tsx bench/non-digits.ts RUN_DIR [--per-category N] [--per-kind N] [--json]');
    process.exit(2);
  }
  const figures = await nonDigitFigures(positionals[0], { perCategory: Number(values['per-category']), perKind: Number(values['per-kind']) });
  if (values.json) {
    console.log(JSON.stringify(figures, null, 2));
  } else {
    const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
    console.log(`run ${figures.run}; not a digit below ${figures.notADigitBelow ?? '-'}; temperature ${figures.temperature}`);
    console.log(`non-digits (test split) refused: ${pct(figures.nonDigits.refused)} of ${figures.nonDigits.n}`);
    for (const [c, f] of Object.entries(figures.nonDigits.byCategory)) console.log(`  ${c.padEnd(10)} ${pct(f.refused).padStart(7)}  ${JSON.stringify(f.reasons)}`);
    const m = figures.mnistTest;
    console.log(`MNIST test: refused ${(100 * m.refused).toFixed(2)}%, accuracy on answered ${(100 * m.accuracyAnswered).toFixed(2)}%, argmax ${(100 * m.accuracyArgmax).toFixed(2)}%`);
    for (const [k, f] of Object.entries(figures.digitKinds)) console.log(`  ${k.padEnd(24)} read ${pct(f.correct).padStart(7)}  refused ${pct(f.refused).padStart(7)}`);
  }
}

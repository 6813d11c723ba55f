/**
 * Digits as people hand them in, for the bench part `trust` (bench/trust.ts calls
 * `digitKindFigures`) and on its own: printed, photographed and re-drawn digits
 * (test/helpers/digit-pictures.ts, as bench/predict-kinds.ts), per kind the share read right and
 * the share answered `null` at the default minimum confidence. (The generated non-digits and the
 * MNIST test digits are `evaluate`'s trust figures: evaluate/trust.ts.)
 *
 * `nonDigitFigures` gives the open-set figures of any Predictor, e.g. of an exported ONNX file
 * (bench/int8.ts), from the same functions `evaluate` uses.
 *
 *   npx tsx bench/non-digits.ts RUN_DIR [--per-kind 60] [--json]
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { loadMnist } from '../src/data/load.js';
import { PIXELS } from '../src/data/types.js';
import { digitTrust, nonDigitTrust } from '../src/evaluate/trust.js';
import { argmax } from '../src/predict/interpret.js';
import { Predictor } from '../src/predict/predictor.js';
import { createRng } from '../src/util/rng.js';
import { FONTS, MNIST_KINDS, PRINTED_KINDS, mnistAs, printedAs } from '../test/helpers/digit-pictures.js';

/** The open-set targets (issues 13 and 26) and whether a Predictor's figures meet them. */
export const OPEN_SET_TARGETS = {
  nonDigitsRefused: 0.95,
  everyCategoryRefused: 0.97,
  mnistTestRefused: 0.005,
} as const;

export interface NonDigitFigures {
  run: string;
  notADigitBelow: number | null;
  temperature: number;
  nonDigits: {
    split: string;
    n: number;
    refused: number;
    byCategory: Record<string, { n: number; refused: number; reasons: Record<string, number> }>;
  };
  mnistTest: { n: number; refused: number; accuracyAnswered: number; accuracyArgmax: number };
  digitKinds: DigitKindFigures;
  targets: Record<keyof typeof OPEN_SET_TARGETS, { target: number; met: boolean }>;
}

/**
 * The generated non-digits' test split and the MNIST test digits through a run, at the default
 * minimum confidence; `onnxFile`: through this ONNX file `export` wrote of the run (e.g. its int8
 * copy, Predictor.fromOnnxFile) instead of the run's model.
 */
export async function nonDigitFigures(
  runDir: string,
  options: { perCategory?: number; threads?: number; onnxFile?: Uint8Array } = {},
): Promise<NonDigitFigures> {
  const threads = options.threads ?? 2;
  const predictor = options.onnxFile
    ? await Predictor.fromOnnxFile(runDir, options.onnxFile, { threads })
    : await Predictor.load(runDir, { threads });
  if (!predictor) throw new Error('ONNX Runtime does not load here: the ONNX file cannot be measured');
  try {
    const nonDigits = await nonDigitTrust(predictor, { perCategory: options.perCategory });
    const test = (await loadMnist()).test;
    const probs = await predictor.probabilities(test);
    const digits = digitTrust(probs, test, predictor.outputs, predictor.rule);
    const byCategory = Object.fromEntries(
      Object.entries(nonDigits.byCategory).map(([c, { n, refused, reasons }]) => [c, { n, refused, reasons }]),
    );
    const n = Object.values(byCategory).reduce((sum, c) => sum + c.n, 0);
    const argmaxRight = Array.from(
      { length: test.count },
      (_, i) => argmax(probs.subarray(i * predictor.outputs, (i + 1) * predictor.outputs), 10) === test.labels[i],
    ).filter(Boolean).length;
    return {
      run: predictor.dir,
      notADigitBelow: predictor.rule.notADigitBelow ?? null,
      temperature: predictor.temperature,
      nonDigits: { split: nonDigits.split, n, refused: nonDigits.refused, byCategory },
      mnistTest: {
        n: test.count,
        refused: digits.atDefault.refused,
        accuracyAnswered: digits.atDefault.accuracy,
        accuracyArgmax: argmaxRight / test.count,
      },
      digitKinds: await digitKindsWith(predictor),
      targets: {
        nonDigitsRefused: {
          target: OPEN_SET_TARGETS.nonDigitsRefused,
          met: nonDigits.refused >= OPEN_SET_TARGETS.nonDigitsRefused,
        },
        everyCategoryRefused: {
          target: OPEN_SET_TARGETS.everyCategoryRefused,
          met: Object.values(byCategory).every((c) => c.refused >= OPEN_SET_TARGETS.everyCategoryRefused),
        },
        mnistTestRefused: {
          target: OPEN_SET_TARGETS.mnistTestRefused,
          met: digits.atDefault.refused <= OPEN_SET_TARGETS.mnistTestRefused,
        },
      },
    };
  } finally {
    await predictor.close();
  }
}

/** Per kind of digit picture: share read right, share answered null. */
export type DigitKindFigures = Record<string, { n: number; correct: number; refused: number }>;

export async function digitKindFigures(
  runDir: string,
  options: { perKind?: number; threads?: number; seed?: number } = {},
): Promise<DigitKindFigures> {
  const predictor = await Predictor.load(runDir, { threads: options.threads ?? 2 });
  try {
    return await digitKindsWith(predictor, options);
  } finally {
    await predictor.close();
  }
}

/** The digit pictures' figures through a Predictor already running. */
async function digitKindsWith(
  predictor: Predictor,
  options: { perKind?: number; seed?: number } = {},
): Promise<DigitKindFigures> {
  const perKind = options.perKind ?? 60;
  const data = await loadMnist();
  const figures: DigitKindFigures = {};
  const rng = createRng(options.seed ?? 1);
  const step = Math.floor(data.test.count / perKind);
  const add = async (kind: string, label: number, bytes: Uint8Array, ext: string) => {
    const [answer] = await predictor.predict([await predictor.preprocessBytes(bytes, `picture${ext}`)]);
    const k = (figures[kind] ??= { n: 0, correct: 0, refused: 0 });
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
  for (const k of Object.values(figures)) {
    k.correct /= k.n;
    k.refused /= k.n;
  }
  return figures;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { 'per-kind': { type: 'string', default: '60' }, json: { type: 'boolean' } },
  });
  if (positionals.length !== 1) {
    console.error('usage: npx tsx bench/non-digits.ts RUN_DIR [--per-kind N] [--json]');
    process.exit(2);
  }
  const figures = await digitKindFigures(positionals[0], { perKind: Number(values['per-kind']) });
  if (values.json) console.log(JSON.stringify(figures, null, 2));
  else
    for (const [k, f] of Object.entries(figures))
      console.log(
        `${k.padEnd(24)} read ${(100 * f.correct).toFixed(1).padStart(6)}%  refused ${(100 * f.refused).toFixed(1).padStart(6)}%`,
      );
}

/**
 * Digits as people hand them in, for the bench part `trust` (bench/trust.ts calls
 * `digitKindFigures`) and on its own: printed, photographed and re-drawn digits
 * (test/helpers/digit-pictures.ts, as bench/predict-kinds.ts), per kind the share read right and
 * the share answered `null` at the default minimum confidence. (The generated non-digits and the
 * MNIST test digits are `evaluate`'s trust figures: evaluate/trust.ts.)
 *
 *   npx tsx bench/non-digits.ts RUN_DIR [--per-kind 60] [--json]
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { loadMnist } from '../src/data/load.js';
import { PIXELS } from '../src/data/types.js';
import { Predictor } from '../src/predict/predictor.js';
import { createRng } from '../src/util/rng.js';
import { FONTS, MNIST_KINDS, PRINTED_KINDS, mnistAs, printedAs } from '../test/helpers/digit-pictures.js';

/** Per kind of digit picture: share read right, share answered null. */
export type DigitKindFigures = Record<string, { n: number; correct: number; refused: number }>;

export async function digitKindFigures(runDir: string, options: { perKind?: number; threads?: number; seed?: number } = {}): Promise<DigitKindFigures> {
  const perKind = options.perKind ?? 60;
  const predictor = await Predictor.load(runDir, { threads: options.threads ?? 2 });
  try {
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
  } finally {
    await predictor.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { 'per-kind': { type: 'string', default: '60' }, json: { type: 'boolean' } } });
  if (positionals.length !== 1) {
    console.error('usage: npx tsx bench/non-digits.ts RUN_DIR [--per-kind N] [--json]');
    process.exit(2);
  }
  const figures = await digitKindFigures(positionals[0], { perKind: Number(values['per-kind']) });
  if (values.json) console.log(JSON.stringify(figures, null, 2));
  else for (const [k, f] of Object.entries(figures)) console.log(`${k.padEnd(24)} read ${(100 * f.correct).toFixed(1).padStart(6)}%  refused ${(100 * f.refused).toFixed(1).padStart(6)}%`);
}

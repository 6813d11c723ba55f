/**
 * docs/trust.md's measured table (the generated block `trust-figures`, scripts/docs-blocks.ts),
 * made from the trust bench's JSON kept in bench/results/ (`npm run bench -- --only trust --json
 * --run RUN`): one column per file of TRUST_RESULTS, a row per figure and target of issue 26.
 */
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import type { TrustFigures } from '../bench/trust.js';
import { pct, readJson } from './docs-format.js';

/** The bench JSON the table is made of: the shipped model's (`npm start`'s recipe, the seed release.json names). */
const TRUST_RESULTS = ['bench/results/trust-shipped.json'];

const missed = (met: boolean | undefined) => (met === false ? ' **(missed)**' : '');
type Row = [string, (t: TrustFigures) => string];
const target = (t: TrustFigures, key: string, text: string) => `${text}${missed(t.targets[key]?.met)}`;

/** The rows; the non-digit categories' rows go after the CATEGORIES_AT-th. */
const CATEGORIES_AT = 13;
const ROWS: Row[] = [
  ['seed, epochs, training time', (t) => `${t.seed}, ${t.epochs}, ${Math.round(t.trainingSeconds)} s`],
  ['test accuracy, argmax (≥ 99.45%)', (t) => target(t, 'testAccuracy', pct(t.calibration.accuracy))],
  [
    'test ECE after T (≤ 0.5%)',
    (t) => target(t, 'testEce', `${pct(t.calibration.after.ece)} (T ${t.calibration.temperature.toFixed(3)})`),
  ],
  ['MNIST test digits refused (≤ 0.5%)', (t) => target(t, 'mnistTestRefused', pct(t.mnistTest.refused))],
  ['accuracy of the answered, MNIST test', (t) => pct(t.mnistTest.accuracyAnswered)],
  [
    'answered accuracy, test digits as pictures (≥ 99.5%)',
    (t) =>
      target(
        t,
        'picturedAccuracyAnswered',
        `${pct(t.picturedTest.accuracyAnswered)} (${pct(t.picturedTest.refused)} refused)`,
      ),
  ],
  [
    'sets at 99%: test coverage (≥ 99.0%)',
    (t) => target(t, 'setCoverage', t.mnistTest.sets ? pct(t.mnistTest.sets.coverage) : '-'),
  ],
  [
    'sets at 99%: mean size (≤ 1.05)',
    (t) => target(t, 'setMeanSize', t.mnistTest.sets ? t.mnistTest.sets.meanSize.toFixed(3) : '-'),
  ],
  ['sets: sizes 1 / 2 / 3 / more', (t) => (t.mnistTest.sets ? sizes(t.mnistTest.sets.sizes) : '-')],
  [
    'sets on the pictures: coverage, mean size',
    (t) =>
      t.picturedTest.sets ? `${pct(t.picturedTest.sets.coverage)}, ${t.picturedTest.sets.meanSize.toFixed(3)}` : '-',
  ],
  ['AURC, MNIST test / as pictures', (t) => `${t.mnistTest.aurc.toFixed(5)} / ${t.picturedTest.aurc.toFixed(5)}`],
  [
    'non-digits refused, all (≥ 95%)',
    (t) => target(t, 'nonDigitsRefused', t.nonDigits ? pct(t.nonDigits.refused, 1) : '-'),
  ],
  ['worst category (≥ 97%)', (t) => target(t, 'everyCategoryRefused', worst(t))],
  ['printed and photographed digits read (5 + 4 kinds × 60)', (t) => digitKinds(t)],
  [
    'validation: lowest minimum confidence keeping 99.5% right (digits and their pictures); the default',
    (t) =>
      t.validation.forTargetBoth
        ? `${t.validation.forTargetBoth.threshold.toFixed(3)} (${pct(t.validation.forTargetBoth.coverage)} answered); ${t.minConfidence}`
        : `-; ${t.minConfidence}`,
  ],
  ['load average during the bench', (t) => `${t.load.start.toFixed(1)} → ${t.load.end.toFixed(1)}`],
];

function sizes(s: Record<string, number>): string {
  const more = Object.entries(s)
    .filter(([k]) => Number(k) > 3)
    .reduce((sum, [, v]) => sum + v, 0);
  return `${s['1'] ?? 0} / ${s['2'] ?? 0} / ${s['3'] ?? 0} / ${more}`;
}

function worst(t: TrustFigures): string {
  if (!t.nonDigits) return '-';
  const [name, f] = Object.entries(t.nonDigits.byCategory).sort((a, b) => a[1].refused - b[1].refused)[0];
  return `${name} ${pct(f.refused, 1)}`;
}

function digitKinds(t: TrustFigures): string {
  const kinds = Object.values(t.digitKinds);
  const lowest = Math.min(...kinds.map((k) => k.correct));
  return `lowest ${pct(lowest, 1)}, mean ${pct(kinds.reduce((s, k) => s + k.correct, 0) / kinds.length, 1)}`;
}

/** The table, or a line saying which bench JSON is missing. */
export function trustTable(): string {
  const missing = TRUST_RESULTS.filter((file) => !existsSync(file));
  if (missing.length) return `(No figures: ${missing.join(', ')} missing; run the trust bench and \`npm run docs\`.)`;
  const runs = TRUST_RESULTS.map((file) => {
    const json = readJson<{ date: string; trust: TrustFigures }>(file);
    return { file: basename(file), date: json.date, t: json.trust };
  });
  const categories = Object.keys(runs[0].t.nonDigits?.byCategory ?? {});
  const all = [
    ...ROWS.slice(0, CATEGORIES_AT),
    ...categories.map(
      (c) =>
        [`&nbsp; ${c}`, (t: TrustFigures) => (t.nonDigits ? pct(t.nonDigits.byCategory[c].refused, 1) : '-')] as Row,
    ),
    ...ROWS.slice(CATEGORIES_AT),
  ];
  const header = `| | ${runs.map((r) => `seed ${r.t.seed}`).join(' | ')} |\n|---|${runs.map(() => '---|').join('')}`;
  const body = all.map(([name, cell]) => `| ${name} | ${runs.map((r) => cell(r.t)).join(' | ')} |`).join('\n');
  const machine = [...new Set(runs.map((r) => r.t.cpu))].join(', ');
  return `${header}\n${body}\n\nMeasured on ${machine}, ${runs.map((r) => `${r.file} ${r.date.slice(0, 16).replace('T', ' ')} UTC`).join(', ')} (bench/results/).`;
}

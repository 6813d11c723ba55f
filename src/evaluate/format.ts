/** Plain-text tables and summaries for the terminal. */
import type { EvaluationReport } from './evaluate.js';
import type { Comparison, RunSummary } from './runs.js';

/** Columns padded to their widest cell; numbers (and cells that look like them) right-aligned. */
export function formatTable(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((row) => row.map(String))];
  const widths = header.map((_, c) => Math.max(...cells.map((row) => (row[c] ?? '').length)));
  const numeric = header.map(
    (_, c) =>
      rows.length > 0 && rows.every((row) => typeof row[c] === 'number' || /^[-+]?[\d.,]+%?$/.test(String(row[c]))),
  );
  const line = (row: string[]) =>
    row
      .map((cell, c) => (numeric[c] ? cell.padStart(widths[c]) : cell.padEnd(widths[c])))
      .join('  ')
      .trimEnd();
  return [line(cells[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

const pct = (x: number, digits = 2) => `${(x * 100).toFixed(digits)}%`;
const fixed = (x: number) => x.toFixed(4);

/** Rows true class, columns predicted, with row totals. */
export function formatConfusionMatrix(cm: number[][], classNames: string[]): string {
  const names = classNames.map((n) => n.slice(0, 8));
  const header = ['true\\pred', ...names, 'total'];
  const rows = cm.map((row, t) => [names[t], ...row, row.reduce((a, b) => a + b, 0)]);
  return formatTable(header, rows);
}

/** "calibration (T = 0.740): ECE 9.10% → 0.40%  NLL ...  Brier ...", when metrics.json has the scores. */
function calibrationLines(m: EvaluationReport): string[] {
  if (!m.calibrationScores || m.temperature === undefined) return [];
  const { before, after } = m.calibrationScores;
  return [
    `calibration, before → after temperature T = ${m.temperature.toFixed(3)}:  ECE ${pct(before.ece)} → ${pct(after.ece)}  NLL ${fixed(before.nll)} → ${fixed(after.nll)}  Brier ${fixed(before.brier)} → ${fixed(after.brier)}`,
  ];
}

/** How far the answers can be trusted (metrics.json `trust`): answers at the default minimum confidence, risk-coverage, sets, non-digits. */
function trustLines(m: EvaluationReport): string[] {
  const t = m.trust;
  if (!t) return [];
  const name = m.split === 'val' ? 'validation' : 'test';
  const both = [
    [`MNIST ${name}`, t.digits],
    ['as pictures', t.pictured],
  ] as const;
  const lines = [
    `answers at the default minimum confidence ${t.minConfidence}: ${both.map(([n, d]) => `${n} ${pct(d.atDefault.coverage)} answered, ${pct(d.atDefault.accuracy)} right`).join('; ')}`,
    `risk-coverage: AURC ${both.map(([n, d]) => `${d.riskCoverage.aurc.toFixed(5)} ${n}`).join(', ')}; lowest minimum confidence keeping ${pct(t.accuracyTarget, 1)} right: ${both.map(([n, d]) => (d.forTarget ? `${d.forTarget.threshold.toFixed(3)} (${pct(d.forTarget.coverage)} answered) ${n}` : `none ${n}`)).join(', ')}`,
  ];
  const sets = t.digits.sets;
  if (sets)
    lines.push(
      `prediction sets: coverage ${pct(sets.coverage)}, mean size ${sets.meanSize.toFixed(3)} (sizes ${Object.entries(
        sets.sizes,
      )
        .map(([k, v]) => `${k}: ${v}`)
        .join(
          ', ',
        )}); as pictures: coverage ${pct(t.pictured.sets!.coverage)}, mean size ${t.pictured.sets!.meanSize.toFixed(3)}`,
    );
  if (t.nonDigits) {
    const worst = Object.entries(t.nonDigits.byCategory).sort((a, b) => a[1].refused - b[1].refused)[0];
    lines.push(
      `generated non-digits (test split, ${t.nonDigits.perCategory} a category) refused ${pct(t.nonDigits.refused, 1)}; fewest: ${worst[0]} ${pct(worst[1].refused, 1)}`,
    );
  }
  return lines;
}

export function formatSummary(m: EvaluationReport): string {
  const name = (k: number) => m.classNames[k] ?? String(k);
  const perClass = formatTable(
    ['class', 'precision', 'recall', 'F1', 'support'],
    [
      ...m.perClass.map((s) => [name(s.digit), fixed(s.precision), fixed(s.recall), fixed(s.f1), s.support]),
      ['macro avg', fixed(m.macro.precision), fixed(m.macro.recall), fixed(m.macro.f1), m.n],
      ['weighted avg', fixed(m.weighted.precision), fixed(m.weighted.recall), fixed(m.weighted.f1), m.n],
    ],
  );
  const pairs = m.confusedPairs
    .slice(0, 5)
    .map((p) => `${name(p.true)}→${name(p.predicted)} ${p.count}`)
    .join(', ');
  return [
    `${m.arch} on ${m.data}`,
    `accuracy ${pct(m.accuracy)}  loss ${fixed(m.loss)}  errors ${m.errors}/${m.n}  top-2 ${pct(m.topK.top2)}  top-3 ${pct(m.topK.top3)}  ECE ${pct(m.ece)}`,
    ...calibrationLines(m),
    ...trustLines(m),
    '',
    'confusion matrix (rows: true, columns: predicted)',
    formatConfusionMatrix(m.confusionMatrix, m.classNames),
    '',
    perClass,
    '',
    `most confused: ${pairs || 'none'}`,
  ].join('\n');
}

export function formatRuns(runs: RunSummary[]): string {
  if (runs.length === 0) return 'no runs';
  return formatTable(
    ['run', 'arch', 'epochs', 'test acc', 'created'],
    runs.map((r) => [r.run, r.arch, r.epochs, r.testAccuracy === null ? '-' : pct(r.testAccuracy), r.createdAt]),
  );
}

export function formatComparison(c: Comparison): string {
  const row = (label: string, pick: (s: Comparison['a']) => string) => [label, pick(c.a), pick(c.b)];
  const sideBySide = formatTable(
    ['', 'A', 'B'],
    [
      row('run', (s) => s.run),
      row('arch', (s) => s.arch),
      row('accuracy', (s) => pct(s.accuracy)),
      row('loss', (s) => fixed(s.loss)),
      row('errors', (s) => String(s.errors)),
      row('top-2', (s) => pct(s.top2)),
      row('top-3', (s) => pct(s.top3)),
      row('macro F1', (s) => fixed(s.macroF1)),
      row('ECE', (s) => pct(s.ece)),
    ],
  );
  const list = (xs: number[], count: number) =>
    count === 0 ? '' : `: ${xs.join(', ')}${count > xs.length ? ', ...' : ''}`;
  return [
    sideBySide,
    '',
    `on ${c.n} test images: both right ${c.bothRight}, both wrong ${c.bothWrong}`,
    `A right, B wrong: ${c.onlyA.count}${list(c.onlyA.first, c.onlyA.count)}`,
    `B right, A wrong: ${c.onlyB.count}${list(c.onlyB.first, c.onlyB.count)}`,
  ].join('\n');
}

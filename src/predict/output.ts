/**
 * Prediction rows → text: CSV for programs, JSON lines for pipelines, a table for a person.
 * Pure functions over rows, so the CLI only chooses one and prints it.
 */
import { NUM_CLASSES } from '../data/types.js';
import { argmax, setInWords, topK, type Prediction } from './interpret.js';
import type { PredictionRow } from './predict-files.js';

export type OutputFormat = 'table' | 'json' | 'csv';
export const OUTPUT_FORMATS: OutputFormat[] = ['table', 'json', 'csv'];

const PROBABILITY_COLUMNS = Array.from({ length: NUM_CLASSES }, (_, k) => `p${k}`);

export function formatRows(rows: PredictionRow[], format: OutputFormat, options: { top?: number } = {}): string {
  if (format === 'csv') return formatCsv(rows);
  if (format === 'json')
    return rows.map((r) => JSON.stringify(jsonRow(r, options.top))).join('\n') + (rows.length ? '\n' : '');
  return formatTable(rows, options.top ?? 1);
}

function csvField(value: string): string {
  return /[",\n\r]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

function fixed(p: number): string {
  return p.toFixed(6);
}

/**
 * `file,digit,confidence,p0..p9`, then `not_a_digit` for a model with that output, `set` (the
 * prediction set, digits separated by spaces: "4 9"), `reason` (why there is no digit, or the
 * error) and `expected` when some input carries a label. `--number` rows: `file,number,confidences,reason`.
 */
function formatCsv(rows: PredictionRow[]): string {
  if (rows.some((r) => r.number)) {
    const lines = ['file,number,confidences,reason'];
    for (const r of rows) {
      const confidences = r.number ? r.number.digits.map((d) => d.confidence.toFixed(4)).join(' ') : '';
      lines.push(
        [
          csvField(r.file),
          r.number?.text ?? '',
          confidences,
          csvField(r.error ? `error: ${r.error}` : (r.number?.reason ?? '')),
        ].join(','),
      );
    }
    return lines.join('\n') + '\n';
  }
  const withExpected = rows.some((r) => r.expected !== undefined);
  const withNotADigit = rows.some((r) => r.prediction?.notADigit !== undefined);
  const probabilityColumns = [...PROBABILITY_COLUMNS, ...(withNotADigit ? ['not_a_digit'] : [])];
  const header = [
    'file',
    'digit',
    'confidence',
    ...probabilityColumns,
    'set',
    'reason',
    ...(withExpected ? ['expected'] : []),
  ];
  const lines = [header.join(',')];
  for (const r of rows) {
    const p = r.prediction;
    const notADigit = withNotADigit ? [p?.notADigit === undefined ? '' : fixed(p.notADigit)] : [];
    const cells = p
      ? [
          p.digit === null ? '' : String(p.digit),
          fixed(p.confidence),
          ...p.probabilities.map(fixed),
          ...notADigit,
          p.set.join(' '),
          csvField(p.reason ?? ''),
        ]
      : ['', '', ...probabilityColumns.map(() => ''), '', csvField(`error: ${r.error ?? 'no prediction'}`)];
    if (withExpected) cells.push(r.expected === undefined ? '' : String(r.expected));
    lines.push([csvField(r.file), ...cells].join(','));
  }
  return lines.join('\n') + '\n';
}

function predictionJson(p: Prediction, top?: number): Record<string, unknown> {
  const out: Record<string, unknown> = { digit: p.digit, confidence: p.confidence, probabilities: p.probabilities };
  if (p.notADigit !== undefined) out.notADigit = p.notADigit;
  out.set = p.set;
  if (p.reason) out.reason = p.reason;
  if (top) out.top = topK(p.probabilities, top);
  return out;
}

function jsonRow(r: PredictionRow, top?: number): Record<string, unknown> {
  const out: Record<string, unknown> = { file: r.file };
  if (r.error) out.error = r.error;
  if (r.prediction) Object.assign(out, predictionJson(r.prediction, top));
  if (r.number) {
    out.number = r.number.text;
    out.digits = r.number.digits.map((d) => predictionJson(d, top));
    if (r.number.reason) out.reason = r.number.reason;
  }
  if (r.expected !== undefined) out.expected = r.expected;
  return out;
}

function describe(p: Prediction, top: number): string {
  const best = topK(p.probabilities, top)
    .map((t) => `${t.digit} ${(t.probability * 100).toFixed(1)}%`)
    .join(', ');
  // A model with the not-a-digit output: its probability beside the best digits of a refused picture.
  const notADigit = p.notADigit === undefined ? '' : `; not a digit ${(p.notADigit * 100).toFixed(1)}%`;
  // A set of more than one digit: the model is unsure between them ("4 or 9").
  const set = p.set.length > 1 ? `${p.digit === null ? '; ' : '  '}set: ${setInWords(p.set)}` : '';
  if (p.digit === null) return `-  (${p.reason}; best: ${best}${notADigit}${set})`;
  return `${top > 1 ? `${p.digit}  (${best})` : `${p.digit}  ${(p.confidence * 100).toFixed(1)}%`}${set}`;
}

function formatTable(rows: PredictionRow[], top = 1): string {
  const width = Math.min(60, Math.max(4, ...rows.map((r) => r.file.length)));
  const withExpected = rows.some((r) => r.expected !== undefined);
  const lines = [`${'file'.padEnd(width)}  ${withExpected ? 'expected  ' : ''}reading`];
  for (const r of rows) {
    let reading: string;
    if (r.error) reading = `error: ${r.error}`;
    else if (r.number) {
      const confidences = r.number.digits.map((d) => (d.confidence * 100).toFixed(0) + '%').join(' ');
      reading = `${r.number.text || '-'}  (${confidences || 'no digits'})${r.number.reason ? `  ${r.number.reason}` : ''}`;
    } else reading = describe(r.prediction!, top);
    const expected = withExpected ? `${r.expected === undefined ? '' : r.expected}`.padEnd(10) : '';
    lines.push(`${r.file.padEnd(width)}  ${expected}${reading}`);
  }
  return lines.join('\n') + '\n';
}

/**
 * Kaggle's `ImageId,Label` (ImageId 1-based) for the rows of one test CSV. A submission needs a
 * label for every image, so an abstention is answered with the most likely digit.
 */
export function kaggleSubmission(rows: PredictionRow[]): string {
  const csvRows = rows.filter((r) => r.kind === 'csv');
  const lines = ['ImageId,Label'];
  csvRows.forEach((r, i) => lines.push(`${i + 1},${argmax(r.prediction!.probabilities)}`));
  return lines.join('\n') + '\n';
}

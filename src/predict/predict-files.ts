/**
 * `predict` over files (Node only): image files, folders, IDX image files and Kaggle CSVs →
 * one row per digit. A bad file is one error row; the rest are still read.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { readIdxImageFile } from '../data/idx-file.js';
import { readDigitCsv } from '../data/csv.js';
import { UserError } from '../util/errors.js';
import { decodeImage, IMAGE_EXTENSIONS } from '../image/decode.js';
import type { Preprocessed, Stage } from '../image/preprocess.js';
import { segmentNumber } from '../image/segment.js';
import type { Prediction } from './interpret.js';
import type { Predictor } from './predictor.js';

type InputKind = 'image' | 'idx' | 'csv';

export interface PredictionRow {
  /** The path as given; `path#index` (0-based) for a row of an IDX or CSV file. */
  file: string;
  kind?: InputKind;
  /** Row index inside an IDX/CSV file. */
  index?: number;
  /** The label, when the input carries one (IDX with its labels file, a labelled CSV). */
  expected?: number;
  prediction?: Prediction;
  /** `--number`: the digits left to right, and the number they read as. */
  number?: { text: string; digits: Prediction[]; reason?: string };
  /** What went wrong with this input; no prediction then. */
  error?: string;
  /** Each preprocessing stage, with `explain`. */
  stages?: Stage[];
}

export interface PredictFilesOptions {
  number?: boolean;
  explain?: boolean;
}

interface PendingRow {
  row: PredictionRow;
  /** One entry for a digit; one per digit found for `--number`. */
  inputs: Preprocessed[];
  numberReason?: string;
}

/** Read every input, run the model once over all of them (batched), and return the rows in order. */
export async function predictFiles(predictor: Predictor, paths: string[], options: PredictFilesOptions = {}): Promise<PredictionRow[]> {
  const pending: PendingRow[] = [];
  for (const { path, problem } of await expandInputs(paths)) {
    if (problem) {
      pending.push({ row: { file: path, error: problem }, inputs: [] });
      continue;
    }
    try {
      pending.push(...(await readInput(path, predictor, options)));
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      pending.push({ row: { file: path, error: withoutPathPrefix(err.message, path) }, inputs: [] });
    }
  }
  const predictions = await predictor.predict(pending.flatMap((p) => p.inputs));
  let next = 0;
  for (const p of pending) {
    const mine = predictions.slice(next, next + p.inputs.length);
    next += p.inputs.length;
    if (p.row.error) continue;
    if (options.number) p.row.number = readNumber(mine, p.numberReason);
    else p.row.prediction = mine[0];
  }
  return pending.map((p) => p.row);
}

function readNumber(digits: Prediction[], reason?: string): { text: string; digits: Prediction[]; reason?: string } {
  const unsure = digits.find((d) => d.digit === null);
  const text = digits.map((d) => (d.digit === null ? '?' : String(d.digit))).join('');
  const why = reason ?? (unsure ? `digit ${digits.indexOf(unsure) + 1}: ${unsure.reason}` : undefined);
  return why ? { text, digits, reason: why } : { text, digits };
}

/** "path: problem" → "problem", since the row already names the file. */
function withoutPathPrefix(message: string, path: string): string {
  return message.startsWith(`${path}: `) ? message.slice(path.length + 2) : message;
}

// ---------------------------------------------------------------------------- finding inputs

function inputKind(path: string): InputKind {
  const name = basename(path).toLowerCase();
  if (/\.csv(\.gz)?$/.test(name)) return 'csv';
  if (/idx3/.test(name)) return 'idx';
  return 'image';
}

function isReadableInFolder(path: string): boolean {
  const name = basename(path).toLowerCase();
  if (name.startsWith('.')) return false;
  return inputKind(path) !== 'image' || IMAGE_EXTENSIONS.includes(extname(name));
}

/**
 * Files as given, folders searched recursively (sorted, so output order is stable). Inside
 * folders only images, IDX image files and CSVs are taken; a named file is always tried.
 */
async function expandInputs(paths: string[]): Promise<{ path: string; problem?: string }[]> {
  const out: { path: string; problem?: string }[] = [];
  for (const path of paths) {
    if (!existsSync(path)) {
      out.push({ path, problem: 'file not found' });
      continue;
    }
    if ((await stat(path)).isDirectory()) {
      const found = await listFolder(path);
      if (found.length === 0) out.push({ path, problem: 'folder has no images, IDX image files or CSVs' });
      out.push(...found.map((p) => ({ path: p })));
    } else {
      out.push({ path });
    }
  }
  return out;
}

async function listFolder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const files: string[] = [];
  for (const entry of entries) {
    const child = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await listFolder(child)));
    else if (entry.isFile() && isReadableInFolder(child)) files.push(child);
  }
  return files;
}

// ---------------------------------------------------------------------------- reading one input

async function readInput(path: string, predictor: Predictor, options: PredictFilesOptions): Promise<PendingRow[]> {
  const kind = inputKind(path);
  if (kind === 'csv') return readCsvRows(path, predictor, options.explain);
  if (kind === 'idx') return readIdxRows(path, predictor, options.explain);
  const image = await decodeImage(await readBytes(path), path);
  const row: PredictionRow = { file: path, kind };
  if (options.number) {
    const found = segmentNumber(image, { spec: predictor.spec, keepStages: options.explain });
    if (found.stages) row.stages = found.stages;
    return [{ row, inputs: found.digits, numberReason: found.reason }];
  }
  const preprocessed = predictor.preprocess(image, { keepStages: options.explain });
  if (preprocessed.stages) row.stages = preprocessed.stages;
  return [{ row, inputs: [preprocessed] }];
}

async function readBytes(path: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (err) {
    throw new UserError(`${path}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, path);
  }
}

interface MnistSet {
  kind: InputKind;
  images: Uint8Array;
  count: number;
  labels?: Uint8Array;
}

/** Rows of a file already in MNIST form: no re-centring, only the model's scaling. */
function mnistRows(path: string, set: MnistSet, predictor: Predictor, explain?: boolean): PendingRow[] {
  const { spec } = predictor;
  const side = spec.size * spec.size;
  const rows: PendingRow[] = [];
  for (let i = 0; i < set.count; i++) {
    const row: PredictionRow = { file: `${path}#${i}`, kind: set.kind, index: i };
    if (set.labels) row.expected = set.labels[i];
    const preprocessed = predictor.preprocessPixels(set.images.subarray(i * side, (i + 1) * side));
    if (explain) row.stages = [{ name: 'as given', width: spec.size, height: spec.size, pixels: preprocessed.pixels }];
    rows.push({ row, inputs: [preprocessed] });
  }
  return rows;
}

async function readCsvRows(path: string, predictor: Predictor, explain?: boolean): Promise<PendingRow[]> {
  const set = await readDigitCsv(path);
  return mnistRows(path, { kind: 'csv', ...set }, predictor, explain);
}

async function readIdxRows(path: string, predictor: Predictor, explain?: boolean): Promise<PendingRow[]> {
  const { count, images, labels } = await readIdxImageFile(path);
  return mnistRows(path, { kind: 'idx', images, count, labels }, predictor, explain);
}

// ---------------------------------------------------------------------------- summaries

/** Accuracy over the rows that carry a label (IDX with labels, labelled CSV). */
export function labelledAccuracy(rows: PredictionRow[]): { n: number; correct: number } | undefined {
  const labelled = rows.filter((r) => r.expected !== undefined && r.prediction);
  if (labelled.length === 0) return undefined;
  // An abstention counts as wrong: accuracy is over every labelled input.
  const correct = labelled.filter((r) => r.prediction!.digit === r.expected).length;
  return { n: labelled.length, correct };
}

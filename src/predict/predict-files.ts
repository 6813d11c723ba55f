/**
 * `predict` over files (Node only): image files, folders, IDX image files and Kaggle CSVs →
 * one row per digit. A bad file is one error row; the rest are still read.
 */
import type { Stats } from 'node:fs';
import { lstat, readdir, readFile, readlink, realpath, stat } from 'node:fs/promises';
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
  /**
   * Told of every entry of a searched folder that is not read, and why: a file of another
   * kind, a hidden one, a dangling link, a FIFO or device, a folder already searched (a link
   * loop). Inputs named outright are never skipped: they become rows, with an error if unreadable.
   */
  onSkip?: (path: string, reason: string) => void;
}

interface PendingRow {
  row: PredictionRow;
  /** One entry for a digit; one per digit found for `--number`. */
  inputs: Preprocessed[];
  numberReason?: string;
}

/** Read every input, run the model once over all of them (batched), and return the rows in order. */
export async function predictFiles(
  predictor: Predictor,
  paths: string[],
  options: PredictFilesOptions = {},
): Promise<PredictionRow[]> {
  const pending: PendingRow[] = [];
  for (const { path, problem } of await expandInputs(paths, options.onSkip ?? (() => {}))) {
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

/** Why a file found in a folder is not read, or undefined when it is: the kinds predict reads. */
function reasonToSkip(path: string): string | undefined {
  const name = basename(path).toLowerCase();
  if (name.startsWith('.')) return 'a hidden file';
  if (inputKind(path) !== 'image' || IMAGE_EXTENSIONS.includes(extname(name))) return undefined;
  return 'not an image, IDX image file or CSV (by its name)';
}

/** "a FIFO", "a socket", "a device": what a path is when it is neither a file nor a folder. */
function otherKind(stats: Stats): string {
  if (stats.isFIFO()) return 'a FIFO';
  if (stats.isSocket()) return 'a socket';
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

/** What a path is, following symbolic links, or why it cannot be followed. */
async function follow(path: string): Promise<{ stats: Stats } | { problem: string }> {
  try {
    return { stats: await stat(path) };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') return { problem: 'a loop of symbolic links' };
    if (code === 'ENOENT') {
      const link = await lstat(path).catch(() => undefined);
      if (link?.isSymbolicLink())
        return { problem: `a dangling symbolic link (to ${await readlink(path).catch(() => '?')})` };
      return { problem: 'file not found' };
    }
    return { problem: `cannot be read (${code ?? (err as Error).message})` };
  }
}

type Found = { path: string; problem?: string };
type Skip = (path: string, reason: string) => void;

/**
 * Files as given, folders searched recursively (sorted, so output order is stable). Symbolic
 * links are followed, to files and to folders; a folder reached twice (a link loop) is searched
 * once. Inside folders only regular files of the kinds predict reads are taken, and every other
 * entry is reported to `skip`; a named path is always tried, but only a regular file is ever
 * opened (a FIFO would block the reader for good).
 */
async function expandInputs(paths: string[], skip: Skip): Promise<Found[]> {
  const out: Found[] = [];
  const searched = new Map<string, string>();
  for (const path of paths) {
    const target = await follow(path);
    if ('problem' in target) {
      out.push({ path, problem: target.problem });
    } else if (target.stats.isDirectory()) {
      const found = await listFolder(path, searched, skip);
      if (found.length === 0) out.push({ path, problem: 'folder has no images, IDX image files or CSVs' });
      out.push(...found);
    } else if (target.stats.isFile()) {
      out.push({ path });
    } else {
      out.push({ path, problem: `${otherKind(target.stats)}, not a regular file: not opened` });
    }
  }
  return out;
}

/** `searched`: the real path of every folder searched so far → the path it was searched as. */
async function listFolder(dir: string, searched: Map<string, string>, skip: Skip): Promise<Found[]> {
  const real = await realpath(dir);
  const already = searched.get(real);
  if (already !== undefined) {
    skip(dir, `already searched as ${already} (a symbolic link loop, or a folder linked twice)`);
    return [];
  }
  searched.set(real, dir);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    return [
      {
        path: dir,
        problem: `folder cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      },
    ];
  }
  names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const files: Found[] = [];
  for (const name of names) {
    const child = join(dir, name);
    const target = await follow(child);
    if ('problem' in target) {
      skip(child, target.problem);
    } else if (target.stats.isDirectory()) {
      files.push(...(await listFolder(child, searched, skip)));
    } else if (!target.stats.isFile()) {
      skip(child, `${otherKind(target.stats)}: not opened`);
    } else {
      const reason = reasonToSkip(child);
      if (reason) skip(child, reason);
      else files.push({ path: child });
    }
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
    throw new UserError(
      `${path}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      path,
    );
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

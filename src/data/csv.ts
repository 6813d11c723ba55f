import { createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { UserError } from '../util/errors.js';
import { NUM_CLASSES, PIXELS, type ImageSet } from './types.js';

/**
 * Images read from a Kaggle "Digit Recognizer" CSV. `labels` is present when the file has a
 * `label` column (train.csv) and absent when it has none (test.csv).
 */
export interface CsvImageSet {
  images: Uint8Array;
  labels?: Uint8Array;
  count: number;
}

const PIXEL_COLUMNS = Array.from({ length: PIXELS }, (_, i) => `pixel${i}`);

/** A growable byte buffer: the row count of a CSV is unknown until its end. */
class ByteBuffer {
  private bytes: Uint8Array;
  length = 0;
  constructor(initial: number) {
    this.bytes = new Uint8Array(initial);
  }
  reserve(extra: number): Uint8Array {
    if (this.length + extra > this.bytes.length) {
      const grown = new Uint8Array(Math.max(this.bytes.length * 2, this.length + extra));
      grown.set(this.bytes.subarray(0, this.length));
      this.bytes = grown;
    }
    const slot = this.bytes.subarray(this.length, this.length + extra);
    this.length += extra;
    return slot;
  }
  take(): Uint8Array {
    return this.bytes.slice(0, this.length);
  }
}

function lineError(path: string, line: number, problem: string): UserError {
  return new UserError(`${path} line ${line}: ${problem}`, path);
}

/** Whether the header has a leading label column; throws when it is neither accepted form. */
function parseHeader(path: string, header: string): boolean {
  // Spreadsheet exports often start with a byte-order mark; it is not part of the first name.
  const columns = header
    .replace(/^\uFEFF/, '')
    .split(',')
    .map((c) => c.trim().replace(/^"(.*)"$/, '$1'));
  const hasLabel = columns[0] === 'label';
  const pixels = hasLabel ? columns.slice(1) : columns;
  const expected = 'label,pixel0,...,pixel783 or pixel0,...,pixel783';
  if (pixels.length !== PIXELS) {
    throw lineError(path, 1, `bad header: ${columns.length} columns, expected ${expected}`);
  }
  const wrong = pixels.findIndex((name, i) => name !== PIXEL_COLUMNS[i]);
  if (wrong >= 0) {
    throw lineError(
      path,
      1,
      `bad header: column ${wrong + (hasLabel ? 2 : 1)} is '${pixels[wrong]}', expected '${PIXEL_COLUMNS[wrong]}' (${expected})`,
    );
  }
  return hasLabel;
}

interface BadValue {
  /** The value as the message shows it: `300`, or `'abc'` quoted when it is not a number. */
  shown: string;
  problem: string;
}

/** A whole number in [0, max], or what is wrong with the text. */
function parseByte(text: string, max: number): number | BadValue {
  const trimmed = text.trim();
  if (!/^\d+$/.test(trimmed)) return { shown: `'${text}'`, problem: 'is not a whole number' };
  const value = Number(trimmed);
  return value > max ? { shown: String(value), problem: `is outside 0-${max}` } : value;
}

function openLines(path: string): { lines: AsyncIterable<string>; stream: Readable } {
  const file = createReadStream(path);
  const stream = path.endsWith('.gz') ? file.pipe(createGunzip()) : file;
  file.on('error', (err) => stream.destroy(err));
  return { lines: createInterface({ input: stream, crlfDelay: Infinity }), stream };
}

/**
 * Read a Kaggle "Digit Recognizer" CSV (`label,pixel0..pixel783` with a header; the label
 * column is optional), line by line, so a 73 MB file never sits in memory as text. A `.gz`
 * file is decompressed on the fly. Every error names the file and line.
 */
export async function readDigitCsv(path: string): Promise<CsvImageSet> {
  try {
    await access(path);
  } catch {
    throw new UserError(`${path}: file not found`, path);
  }
  const { lines, stream } = openLines(path);
  const images = new ByteBuffer(1024 * PIXELS);
  const labels = new ByteBuffer(1024);
  let hasLabel: boolean | undefined;
  let lineNumber = 0;
  let count = 0;
  try {
    for await (const line of lines) {
      lineNumber++;
      if (hasLabel === undefined) {
        hasLabel = parseHeader(path, line);
        continue;
      }
      if (line.trim() === '') continue;
      const values = line.split(',');
      const width = PIXELS + (hasLabel ? 1 : 0);
      if (values.length !== width) throw lineError(path, lineNumber, `expected ${width} values, got ${values.length}`);
      let first = 0;
      if (hasLabel) {
        const label = parseByte(values[0], NUM_CLASSES - 1);
        if (typeof label !== 'number') throw lineError(path, lineNumber, `label ${label.shown} ${label.problem}`);
        labels.reserve(1)[0] = label;
        first = 1;
      }
      const row = images.reserve(PIXELS);
      for (let i = 0; i < PIXELS; i++) {
        const value = parseByte(values[first + i], 255);
        if (typeof value !== 'number')
          throw lineError(path, lineNumber, `value ${value.shown} at column pixel${i} ${value.problem}`);
        row[i] = value;
      }
      count++;
    }
  } catch (err) {
    if (err instanceof UserError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new UserError(`${path}: cannot be read (${code ?? (err as Error).message})`, path);
  } finally {
    stream.destroy();
  }
  if (hasLabel === undefined) throw lineError(path, 1, 'the file is empty (expected a header line)');
  return hasLabel ? { images: images.take(), labels: labels.take(), count } : { images: images.take(), count };
}

/** A labelled CSV as an ImageSet for training or evaluation; refuses a file without labels. */
export async function readLabelledDigitCsv(path: string): Promise<ImageSet> {
  const set = await readDigitCsv(path);
  if (!set.labels) throw new UserError(`${path}: has no label column (line 1 should start with 'label')`, path);
  return { images: set.images, labels: set.labels, count: set.count };
}

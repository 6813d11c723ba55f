import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../util/errors.js';
import { RUN_FILES } from './run.js';

/** One row of history.csv. */
export interface EpochRecord {
  epoch: number;
  loss: number;
  accuracy: number;
  val_loss: number | null;
  val_accuracy: number | null;
  lr: number;
  seconds: number;
}

const HISTORY_COLUMNS = ['epoch', 'loss', 'accuracy', 'val_loss', 'val_accuracy', 'lr', 'seconds'] as const;

export function historyToCsv(rows: EpochRecord[]): string {
  const line = (r: EpochRecord) => HISTORY_COLUMNS.map((c) => (r[c] === null ? '' : String(r[c]))).join(',');
  return [HISTORY_COLUMNS.join(','), ...rows.map(line)].join('\n') + '\n';
}

export function parseHistoryCsv(text: string, name = 'history.csv'): EpochRecord[] {
  const lines = text.trim().split(/\r?\n/);
  if (lines[0] !== HISTORY_COLUMNS.join(',')) {
    throw new UserError(`${name}: header must be '${HISTORY_COLUMNS.join(',')}', got '${lines[0]}'`, name);
  }
  return lines.slice(1).map((line, i) => {
    const cells = line.split(',');
    if (cells.length !== HISTORY_COLUMNS.length) {
      throw new UserError(`${name} line ${i + 2}: expected ${HISTORY_COLUMNS.length} values, got ${cells.length}`, name);
    }
    const num = (s: string) => (s === '' ? null : Number(s));
    const [epoch, loss, accuracy, valLoss, valAccuracy, lr, seconds] = cells.map(num);
    return { epoch: epoch!, loss: loss!, accuracy: accuracy!, val_loss: valLoss, val_accuracy: valAccuracy, lr: lr!, seconds: seconds! };
  });
}

function readHistory(path: string): EpochRecord[] {
  if (!existsSync(path)) throw new UserError(`${path} is missing`, path);
  return parseHistoryCsv(readFileSync(path, 'utf8'), path);
}

/** A run folder's history.csv, or undefined when it has none (an ensemble, a run stopped in epoch 1). */
export async function readRunHistory(runDir: string): Promise<EpochRecord[] | undefined> {
  const path = join(runDir, RUN_FILES.history);
  return existsSync(path) ? readHistory(path) : undefined;
}

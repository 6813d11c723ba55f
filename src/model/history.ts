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
  /**
   * The validation loss at the temperature fitted on these very probabilities: what picks the
   * best epoch (train/trainer.ts). Absent in histories written before it was recorded.
   */
  val_loss_calibrated?: number | null;
}

const HISTORY_COLUMNS = [
  'epoch',
  'loss',
  'accuracy',
  'val_loss',
  'val_accuracy',
  'lr',
  'seconds',
  'val_loss_calibrated',
] as const;
/** The columns of history.csv files written before `val_loss_calibrated`: still read. */
const OLDER_COLUMNS = HISTORY_COLUMNS.slice(0, -1);

export function historyToCsv(rows: EpochRecord[]): string {
  const line = (r: EpochRecord) =>
    HISTORY_COLUMNS.map((c) => (r[c] === null || r[c] === undefined ? '' : String(r[c]))).join(',');
  return [HISTORY_COLUMNS.join(','), ...rows.map(line)].join('\n') + '\n';
}

export function parseHistoryCsv(text: string, name = 'history.csv'): EpochRecord[] {
  const lines = text.trim().split(/\r?\n/);
  const columns = [HISTORY_COLUMNS, OLDER_COLUMNS].find((c) => lines[0] === c.join(','));
  if (!columns) {
    throw new UserError(`${name}: header must be '${HISTORY_COLUMNS.join(',')}', got '${lines[0]}'`, name);
  }
  return lines.slice(1).map((line, i) => {
    const cells = line.split(',');
    if (cells.length !== columns.length) {
      throw new UserError(`${name} line ${i + 2}: expected ${columns.length} values, got ${cells.length}`, name);
    }
    const num = (s: string) => (s === '' ? null : Number(s));
    const [epoch, loss, accuracy, valLoss, valAccuracy, lr, seconds, calibrated] = cells.map(num);
    const record: EpochRecord = {
      epoch: epoch!,
      loss: loss!,
      accuracy: accuracy!,
      val_loss: valLoss,
      val_accuracy: valAccuracy,
      lr: lr!,
      seconds: seconds!,
    };
    return columns === HISTORY_COLUMNS ? { ...record, val_loss_calibrated: calibrated } : record;
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

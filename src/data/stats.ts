import { classCounts, seededSplitIndices, takeIndices, type SplitPlan } from './split.js';
import type { Dataset, DataSource, DatasetName, FileRecord, ImageSet } from './types.js';

/** Mean and standard deviation of pixel values on the 0..1 scale training feeds the model. */
export interface PixelStats {
  mean: number;
  std: number;
}

export function pixelStats(images: Uint8Array): PixelStats {
  if (images.length === 0) return { mean: 0, std: 0 };
  // Integer sums are exact up to 2^53: 47M pixels x 255^2 is far below it.
  let sum = 0;
  let sumSquares = 0;
  for (let i = 0; i < images.length; i++) {
    const v = images[i];
    sum += v;
    sumSquares += v * v;
  }
  const n = images.length;
  const mean = sum / n;
  const variance = Math.max(0, sumSquares / n - mean * mean);
  return { mean: mean / 255, std: Math.sqrt(variance) / 255 };
}

interface SplitSummary {
  count: number;
  perClass: number[];
}

export interface DataSummary {
  dataset: DatasetName;
  classNames: string[];
  source: DataSource;
  files: FileRecord[];
  /** Images in the dataset's files, before any split: 60,000 and 10,000 for MNIST. */
  counts: { trainFile: number; testFile: number };
  plan: SplitPlan;
  splits: { train: SplitSummary; val: SplitSummary; test: SplitSummary };
  /** Of the training split (after the validation hold-out), on the 0..1 scale. */
  pixels: PixelStats;
}

/** The training and validation sets a run with this plan would use. */
export function applySplitPlan(data: Dataset, plan: SplitPlan): { train: ImageSet; val: ImageSet } {
  const { train, val } = seededSplitIndices(data.train.labels, plan);
  return { train: takeIndices(data.train, train), val: takeIndices(data.train, val) };
}

function summarizeSet(set: ImageSet, numClasses: number): SplitSummary {
  return { count: set.count, perClass: classCounts(set.labels, numClasses) };
}

/** Counts and pixel statistics; pass `split` when the caller already applied the plan. */
export function summarizeDataset(data: Dataset, plan: SplitPlan, split = applySplitPlan(data, plan)): DataSummary {
  const { train, val } = split;
  const numClasses = data.classNames.length;
  return {
    dataset: data.name,
    classNames: data.classNames,
    source: data.source,
    files: data.files,
    counts: { trainFile: data.train.count, testFile: data.test.count },
    plan,
    splits: {
      train: summarizeSet(train, numClasses),
      val: summarizeSet(val, numClasses),
      test: summarizeSet(data.test, numClasses),
    },
    pixels: pixelStats(train.images),
  };
}

/** Columns padded to line up; `numeric` columns are right-aligned, the others left-aligned. */
function table(rows: string[][], numeric: (column: number) => boolean): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  const pad = (cell: string, c: number) => (numeric(c) ? cell.padStart(widths[c]) : cell.padEnd(widths[c]));
  return rows.map((row) => row.map(pad).join('  ').trimEnd()).join('\n');
}

/** A summary as a person reads it in a terminal. */
export function formatDataSummary(summary: DataSummary): string {
  const { splits, plan } = summary;
  const lines: string[] = [];
  lines.push(`dataset  ${summary.dataset}`);
  lines.push(`source   ${summary.source.kind}: ${summary.source.location}`);
  lines.push('');
  lines.push(
    table(
      [
        ['file', 'sha256', 'verified'],
        ...summary.files.map((f) => [f.name, f.sha256, f.verified ? 'yes' : 'no (structural checks only)']),
      ],
      () => false,
    ),
  );
  lines.push('');
  const limitNote = plan.limit > 0 ? `, limit ${plan.limit}` : '';
  lines.push(`images   ${summary.counts.trainFile} in the training file, ${summary.counts.testFile} in the test file`);
  lines.push('');
  lines.push(`split (seed ${plan.seed}${limitNote}, ${splits.val.count} held out for validation, stratified)`);
  const header = ['class', 'train', 'val', 'test'];
  const classRows = summary.classNames.map((name, k) => [
    summary.classNames[k] === String(k) ? name : `${k} ${name}`,
    String(splits.train.perClass[k]),
    String(splits.val.perClass[k]),
    String(splits.test.perClass[k]),
  ]);
  lines.push(
    table(
      [
        header,
        ...classRows,
        ['total', String(splits.train.count), String(splits.val.count), String(splits.test.count)],
      ],
      (c) => c > 0,
    ),
  );
  lines.push('');
  lines.push(
    `pixels (train split, 0..1)  mean ${summary.pixels.mean.toFixed(4)}  std ${summary.pixels.std.toFixed(4)}`,
  );
  return lines.join('\n');
}

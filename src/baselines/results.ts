import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PreprocessSpec } from '../data/model-input.js';
import type { FileRecord } from '../data/types.js';
import { UserError } from '../util/errors.js';
import type { PaperFigure } from './paper.js';

/**
 * baselines.json: what `mnist-cnn baselines` measured, model by model, on one split of MNIST;
 * the report's section "The CNN against traditional models" (evaluate/baselines-section.ts) and
 * docs/baselines.md are made from it.
 */
export const BASELINES_FILE = 'baselines.json';
const BASELINES_FORMAT = 'mnist-cnn-baselines';

/** `traditional`: no convolution. `lenet5`: the paper's network, trained here. `cnn`: a run of ours. */
type BaselineKind = 'traditional' | 'lenet5' | 'cnn';

export interface BaselineResult {
  /** Short and stable: `logistic`, `knn`, `knn-pca40`, `svm-rbf`, `cnn`... */
  id: string;
  name: string;
  kind: BaselineKind;
  /** The paper's figure for the same or the nearest classifier (Fig. 9), when it has one. */
  paper?: PaperFigure;
  /** Test images it got wrong, of `testCount`. */
  testErrors: number;
  testCount: number;
  /** Error on the validation split, for the models whose settings were chosen on it. */
  valError?: number;
  /** Training images it learnt from. */
  trainedOn: number;
  /** Why it learnt from fewer than all of them. */
  subset?: string;
  /** The settings it ran with, chosen on validation where a choice was made (k, components, gamma...). */
  settings: Record<string, number | string>;
  /** Fitting, including choosing its settings on validation (a CNN: its run's training time). */
  trainSeconds: number;
  /** Reading the test images. */
  predictSeconds: number;
  /** What must be kept to predict, in bytes (`sizeOf` says of what). */
  sizeBytes: number;
  sizeOf: string;
  /** A CNN's run folder. */
  run?: string;
  /** The predicted digit of every test image, in test order, one character each (in the file, not in --json). */
  predictions?: string;
}

export interface BaselinesReport {
  format: typeof BASELINES_FORMAT;
  formatVersion: 1;
  createdAt: string;
  machine: { cpu: string; cores: number; node: string; loadAverage: { start: number[]; end: number[] } };
  versions: Record<string, string>;
  citation: string;
  data: {
    dataset: string;
    files: FileRecord[];
    split: { seed: number; limit: number; trainCount: number; valCount: number; testCount: number };
    preprocessing: PreprocessSpec;
  };
  /** Seconds of `runBaselines`: the traditional models trained and tested, the CNN runs read (not trained). */
  totalSeconds: number;
  models: BaselineResult[];
}

export function newReport(fields: Omit<BaselinesReport, 'format' | 'formatVersion'>): BaselinesReport {
  return { format: BASELINES_FORMAT, formatVersion: 1, ...fields };
}

/** Test error as a share of the test images. */
export const testError = (r: Pick<BaselineResult, 'testErrors' | 'testCount'>): number => r.testErrors / r.testCount;

/** The report without the per-image predictions: what `--json` prints and the bench keeps. */
export function withoutPredictions(report: BaselinesReport): BaselinesReport {
  return { ...report, models: report.models.map(({ predictions: _, ...rest }) => rest) };
}

/** A run folder's baselines.json, or undefined when it has none. */
export async function readBaselines(dir: string): Promise<BaselinesReport | undefined> {
  const path = join(dir, BASELINES_FILE);
  if (!existsSync(path)) return undefined;
  let report: BaselinesReport;
  try {
    report = JSON.parse(await readFile(path, 'utf8')) as BaselinesReport;
  } catch (err) {
    throw new UserError(`${path}: not valid JSON (${(err as Error).message})`, path);
  }
  if (report?.format !== BASELINES_FORMAT || !Array.isArray(report.models))
    throw new UserError(`${path}: not the results of mnist-cnn baselines`, path);
  return report;
}

/** The CNN the traditional models are measured against: the first of our runs. */
export function mainCnn(report: BaselinesReport): BaselineResult | undefined {
  return report.models.find((m) => m.kind === 'cnn');
}

/**
 * Test images on which one side is right and every model of the other side wrong: `cnnOnly`, our
 * CNN right and every traditional model wrong; `traditionalOnly`, the reverse. Needs the
 * predictions (the file's, not --json's) and the test labels.
 */
export function disagreements(
  report: BaselinesReport,
  labels: ArrayLike<number>,
): { cnnOnly: number[]; traditionalOnly: number[] } {
  const cnn = mainCnn(report)?.predictions;
  const traditional = report.models.filter((m) => m.kind === 'traditional').map((m) => m.predictions);
  const cnnOnly: number[] = [];
  const traditionalOnly: number[] = [];
  if (!cnn || traditional.length === 0 || traditional.some((p) => p === undefined)) return { cnnOnly, traditionalOnly };
  for (let i = 0; i < labels.length; i++) {
    const truth = String(labels[i]);
    const cnnRight = cnn[i] === truth;
    if (cnnRight && traditional.every((p) => p![i] !== truth)) cnnOnly.push(i);
    if (!cnnRight && traditional.every((p) => p![i] === truth)) traditionalOnly.push(i);
  }
  return { cnnOnly, traditionalOnly };
}

const percent = (share: number) => `${(share * 100).toFixed(2)}%`;
const count = (n: number) => n.toLocaleString('en-US');

/** Seconds as people read them: 0.4 s, 12.3 s, 4 min 05 s. */
export function formatSeconds(seconds: number): string {
  if (seconds < 90) return `${seconds.toFixed(1)} s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes} min ${String(Math.round(seconds % 60)).padStart(2, '0')} s`;
}

/** Bytes as people read them. */
function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 ** 2).toFixed(1)} MB`;
}

/** One row per model: the cells of the table the CLI prints, docs/baselines.md holds and the report shows. */
export function tableRows(report: BaselinesReport): { header: string[]; rows: string[][] } {
  const header = ['model', 'test error (ours)', 'paper, Fig. 9', 'trained on', 'train time', 'test time', 'size'];
  const rows = report.models.map((m) => [
    m.name,
    `${percent(testError(m))} (${count(m.testErrors)})`,
    m.paper ? `${m.paper.errorPercent.toFixed(2)}% ${m.paper.method}${m.paper.note ? ` (${m.paper.note})` : ''}` : '—',
    `${count(m.trainedOn)}${m.subset ? '*' : ''}`,
    formatSeconds(m.trainSeconds),
    formatSeconds(m.predictSeconds),
    `${formatBytes(m.sizeBytes)} (${m.sizeOf})`,
  ]);
  return { header, rows };
}

/** The table as Markdown, with its footnotes (subsets, machine): the CLI's output and docs/baselines.md's table. */
export function baselinesTableMarkdown(report: BaselinesReport): string {
  const { header, rows } = tableRows(report);
  const cell = (s: string) => s.replace(/\|/g, '\\|');
  const lines = [
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`),
  ];
  const notes = report.models.filter((m) => m.subset).map((m) => `\\* ${m.name}: ${m.subset}`);
  const { machine, data } = report;
  const load = `load average ${machine.loadAverage.start.map((l) => l.toFixed(1)).join(', ')} at the start, ${machine.loadAverage.end.map((l) => l.toFixed(1)).join(', ')} at the end`;
  const footer = `Test error on the ${count(data.split.testCount)} MNIST test images; trained on the ${count(data.split.trainCount)} training images of the seed-${data.split.seed} split (${count(data.split.valCount)} held out for validation). ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, ${load}; ${report.createdAt.slice(0, 10)}; the traditional models trained and tested in ${formatSeconds(report.totalSeconds)} (the CNNs' training times are their runs').`;
  return [...lines, '', ...notes.flatMap((n) => [n, '']), footer].join('\n');
}

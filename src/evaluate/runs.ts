import { existsSync, lstatSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { DEFAULT_RUNS_DIR, readMetadata, resolveRunDir, RUN_FILES } from '../model/run.js';
import { UserError } from '../util/errors.js';
import { evaluateRun, readMetrics, type EvaluateOptions, type EvaluationReport } from './evaluate.js';
import { reloadEvalData, type EvalSource } from './eval-data.js';

export interface RunSummary {
  run: string;
  dir: string;
  arch: string;
  epochs: number;
  /** From metadata.json's `test`, once the run has been evaluated; null before. */
  testAccuracy: number | null;
  createdAt: string;
}

/** Run folders (those with a metadata.json) under `runsDir`, newest first. The `latest` link is not listed twice. */
export async function listRuns(runsDir: string = DEFAULT_RUNS_DIR): Promise<RunSummary[]> {
  const root = resolve(runsDir);
  if (!existsSync(root))
    throw new UserError(`${runsDir} does not exist (no runs yet: train one with \`mnist-cnn train\`)`, runsDir);
  const summaries: RunSummary[] = [];
  for (const entry of await readdir(root)) {
    const dir = join(root, entry);
    if (lstatSync(dir).isSymbolicLink() || !lstatSync(dir).isDirectory() || !existsSync(join(dir, RUN_FILES.metadata)))
      continue;
    const meta = await readMetadata(dir);
    summaries.push({
      run: entry,
      dir,
      arch: meta.arch,
      epochs: meta.epochsCompleted,
      testAccuracy: meta.test?.accuracy ?? null,
      createdAt: meta.createdAt,
    });
  }
  if (summaries.length === 0) return [];
  // Newest first; runs started in the same instant by name.
  return summaries.sort((a, b) =>
    a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : a.run < b.run ? -1 : a.run > b.run ? 1 : 0,
  );
}

/** What `compare` shows of each run. */
interface CompareSide {
  run: string;
  arch: string;
  accuracy: number;
  loss: number;
  errors: number;
  top2: number;
  top3: number;
  macroF1: number;
  ece: number;
}

interface Disagreement {
  count: number;
  /** The first image indices (of the test split). */
  first: number[];
}

export interface Comparison {
  n: number;
  a: CompareSide;
  b: CompareSide;
  bothRight: number;
  bothWrong: number;
  /** Images run A gets right and run B wrong. */
  onlyA: Disagreement;
  /** Images run B gets right and run A wrong. */
  onlyB: Disagreement;
}

const COMPARE_FIRST = 20;

/** A run's test-split metrics: from metrics.json when it holds them, else evaluated now (nothing written). */
async function testMetrics(
  dir: string,
  settings: Pick<EvaluateOptions, 'backend' | 'threads'>,
): Promise<EvaluationReport> {
  const saved = await readMetrics(dir);
  if (saved && saved.split === 'test' && saved.predictions?.length === saved.n) return saved;
  return (await evaluateRun(dir, { ...settings, write: false, plots: false })).metrics;
}

function side(run: string, m: EvaluationReport): CompareSide {
  return {
    run,
    arch: m.arch,
    accuracy: m.accuracy,
    loss: m.loss,
    errors: m.errors,
    top2: m.topK.top2,
    top3: m.topK.top3,
    macroF1: m.macro.f1,
    ece: m.ece,
  };
}

/** Two runs on the same test images: metrics side by side, and where one is right and the other wrong. */
function compareMetrics(
  runA: string,
  a: EvaluationReport,
  runB: string,
  b: EvaluationReport,
  labels: ArrayLike<number>,
): Comparison {
  if (a.n !== b.n || a.n !== labels.length) {
    throw new UserError(
      `cannot compare: ${runA} was evaluated on ${a.n} images (${a.data}) and ${runB} on ${b.n} (${b.data})`,
    );
  }
  const onlyA: Disagreement = { count: 0, first: [] };
  const onlyB: Disagreement = { count: 0, first: [] };
  let bothRight = 0;
  let bothWrong = 0;
  for (let i = 0; i < a.n; i++) {
    const label = labels[i];
    const rightA = parseInt(a.predictions[i], 36) === label;
    const rightB = parseInt(b.predictions[i], 36) === label;
    if (rightA && rightB) bothRight++;
    else if (!rightA && !rightB) bothWrong++;
    else {
      const d = rightA ? onlyA : onlyB;
      d.count++;
      if (d.first.length < COMPARE_FIRST) d.first.push(i);
    }
  }
  return { n: a.n, a: side(runA, a), b: side(runB, b), bothRight, bothWrong, onlyA, onlyB };
}

/** Test splits of a verified dataset are the same images wherever they were read from; anything else must match exactly. */
function sameImages(a: EvalSource, b: EvalSource): boolean {
  if (a.kind === 'test' && b.kind === 'test' && a.dataset === b.dataset && a.dataset !== 'idx') return true;
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Compare two runs on their dataset's test split (evaluating, with `settings`, any run that has no test metrics yet). */
export async function compareRuns(
  runA: string,
  runB: string,
  settings: Pick<EvaluateOptions, 'backend' | 'threads'> = {},
): Promise<Comparison> {
  const dirA = resolveRunDir(runA);
  const dirB = resolveRunDir(runB);
  const a = await testMetrics(dirA, settings);
  const b = await testMetrics(dirB, settings);
  if (!sameImages(a.source, b.source)) {
    throw new UserError(`cannot compare: ${runA} is evaluated on ${a.data} and ${runB} on ${b.data}`);
  }
  const { labels } = await reloadEvalData(a.source, dirA);
  return compareMetrics(runA, a, runB, b, labels);
}

import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadMnist } from '../data/load.js';
import { readIdxImageFile } from '../data/idx-file.js';
import { takeIndices } from '../data/split.js';
import type { DatasetName, ImageSet } from '../data/types.js';
import { readValIndices, RUN_FILES, type RunMetadata } from '../model/run.js';
import { UserError } from '../util/errors.js';

export type EvalSplit = 'test' | 'val';

/** What was evaluated, recorded in metrics.json so that the report can find the images again. */
export type EvalSource = ({ kind: 'test' } & RunData) | ({ kind: 'val' } & RunData) | { kind: 'path'; path: string };

export interface EvalData {
  source: EvalSource;
  set: ImageSet;
  /** A short human name: "mnist test (10000 images)". */
  description: string;
}

/** Where the run's dataset came from, as its config says: enough for loadMnist to find it again. */
interface RunData {
  dataset: DatasetName;
  dataDir: string | null;
  mirror: string | null;
}

function runData(meta: RunMetadata): RunData {
  const text = (value: unknown) => (typeof value === 'string' ? value : null);
  return {
    dataset: meta.data?.dataset ?? 'mnist',
    dataDir: text(meta.config?.dataDir),
    mirror: text(meta.config?.mirror),
  };
}

function loadRunData(data: RunData) {
  return loadMnist({ dataset: data.dataset, dataDir: data.dataDir ?? undefined, mirror: data.mirror ?? undefined });
}

/** The validation indices training saved (val-indices.json), or a UserError saying --split val cannot work without them. */
async function valIndicesOf(runDir: string, trainCount: number): Promise<number[]> {
  const indices = await readValIndices(runDir, trainCount);
  if (!indices) {
    const path = join(runDir, RUN_FILES.valIndices);
    throw new UserError(
      `${path} is missing: this run did not save its validation split, so --split val cannot re-create it (use --split test)`,
      path,
    );
  }
  return indices;
}

/**
 * A labelled set from a path the data layer reads: an IDX images file (labels beside it), a CSV
 * (Kaggle's `label,pixel0..pixel783`) or a folder of class folders `0/`..`9/`. CSV and folders
 * go through the data layer's readers, imported only when needed (sharp is heavy).
 */
async function readLabelledPath(path: string): Promise<ImageSet> {
  const full = resolve(path);
  if (!existsSync(full)) throw new UserError(`${path} does not exist`, path);
  if (statSync(full).isDirectory()) {
    const { loadImageFolder } = await import('../data/folder.js');
    const { decodeDigitImage } = await import('../image/digit-file.js');
    const { images, labels, count } = await loadImageFolder(full, decodeDigitImage);
    return { images, labels, count };
  }
  if (/\.csv(\.gz)?$/i.test(full)) {
    const { readLabelledDigitCsv } = await import('../data/csv.js');
    return readLabelledDigitCsv(full);
  }
  const { images, labels, count } = await readIdxImageFile(full, { requireLabels: true });
  return { images, labels: labels!, count };
}

/** The images to evaluate a run on: its dataset's test split, its validation split, or a path. */
export async function loadEvalData(
  runDir: string,
  meta: RunMetadata,
  options: { split?: EvalSplit; data?: string },
): Promise<EvalData> {
  if (options.data) {
    const set = await readLabelledPath(options.data);
    return {
      source: { kind: 'path', path: resolve(options.data) },
      set,
      description: `${options.data} (${set.count} images)`,
    };
  }
  const runSource = runData(meta);
  const data = await loadRunData(runSource);
  const dataset = runSource.dataset;
  if ((options.split ?? 'test') === 'test') {
    return {
      source: { kind: 'test', ...runSource },
      set: data.test,
      description: `${dataset} test (${data.test.count} images)`,
    };
  }
  const indices = await valIndicesOf(runDir, data.train.count);
  const set = takeIndices(data.train, indices);
  return {
    source: { kind: 'val', ...runSource },
    set,
    description: `${dataset} validation split of the run (${set.count} images)`,
  };
}

/** The same images again, from a source recorded in metrics.json (for rebuilding pictures). */
export async function reloadEvalData(source: EvalSource, runDir: string): Promise<ImageSet> {
  if (source.kind === 'path') return readLabelledPath(source.path);
  const data = await loadRunData(source);
  if (source.kind === 'test') return data.test;
  return takeIndices(data.train, await valIndicesOf(runDir, data.train.count));
}

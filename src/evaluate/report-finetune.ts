/**
 * The report's "Fine-tuning" section, for a run made by `mnist-cnn finetune` (train/finetune.ts):
 * what it started from and learnt from, and the base run beside it on the held-out corrections
 * and on the MNIST test set. Nothing for other runs.
 */
import { existsSync } from 'node:fs';
import type { RunMetadata } from '../model/run.js';
import { escapeMarkup } from '../util/markup.js';
import type { EvaluationReport } from './evaluate.js';

const pct = (x: number | undefined, digits = 2) => (x === undefined ? 'n/a' : `${(x * 100).toFixed(digits)}%`);
const points = (before: number | undefined, after: number | undefined) =>
  before === undefined || after === undefined
    ? ''
    : `${after >= before ? '+' : '−'}${Math.abs((after - before) * 100).toFixed(2)}`;

/** The section's HTML, or '' for a run that was not fine-tuned. `metrics`: this run's evaluation (the test split's, for the MNIST row). */
export function finetuneSection(meta: RunMetadata, metrics: EvaluationReport): string {
  const record = meta.finetune;
  if (!record) return '';
  const { base, data, holdout, mix } = record;
  const baseName = base.shipped ? `the model shipped in the package (${base.shipped})` : base.dir;
  const digits = data.perClass.slice(0, 10).reduce((a, b) => a + b, 0);
  const nonDigits = data.perClass[10] ?? 0;
  const test = metrics.split === 'test' ? metrics.accuracy : undefined;
  const row = (what: string, before: number | undefined, after: number | undefined) =>
    `<tr><td>${escapeMarkup(what)}</td><td>${pct(before)}</td><td>${pct(after)}</td><td>${points(before, after)}</td></tr>`;
  const rows = [
    row(`your held-out digits (${holdout.count}), read right`, holdout.before?.accuracy, holdout.after?.accuracy),
    row(`your held-out digits, refused ("not a digit" or unsure)`, holdout.before?.refused, holdout.after?.refused),
    row(
      `MNIST test (${metrics.split === 'test' ? metrics.n.toLocaleString('en-US') : 'not evaluated'}), accuracy`,
      base.test?.accuracy,
      test,
    ),
  ];
  const gone = existsSync(base.dir) ? '' : ' (no longer there)';
  return `<p>Fine-tuned from ${escapeMarkup(baseName)}${gone} on <b>${digits}</b> corrected digits${nonDigits ? ` and ${nonDigits} pictures marked "not a digit"` : ''} from <code>${escapeMarkup(data.dir)}</code> (SHA-256 of what was read: <code>${escapeMarkup(data.sha256.slice(0, 16))}…</code>). ${holdout.count} of the digits, a stratified share, were held out: the table's first rows are on them, never trained on.</p>
<table class="num"><thead><tr><th></th><th>base run</th><th>fine-tuned</th><th>change (points)</th></tr></thead><tbody>${rows.join('')}</tbody></table>
<p>Each epoch trained on the other ${mix.corrections} corrections, each ${mix.copies} times (augmented afresh each time), among ${mix.rehearsal.toLocaleString('en-US')} images of the base run's own MNIST training split, so that corrections were ${pct(mix.share, 0)} of the digits${mix.nonDigitPictures ? `, with ${mix.nonDigitPictures} generated non-digit pictures rehearsing "not a digit"` : ''}. The temperature and the not-a-digit threshold were fitted again on the base run's MNIST validation split and the held-out corrections. The held-out corrections are in the run folder (<code>holdout-images-idx3-ubyte</code>): <code>mnist-cnn evaluate RUN --data RUN/holdout-images-idx3-ubyte</code> reads them.</p>`;
}

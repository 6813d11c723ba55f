/**
 * report.html: one self-contained page per run (pictures inline as PNG data URIs, or as SVG
 * around PNG data URIs for the tile pictures of inside the network; CSS inline, no script,
 * nothing fetched), readable offline and attachable to an email.
 */
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { readMetadata, resolveRunDir, RUN_FILES, type RunMetadata } from '../model/run.js';
import { shippedModelOf } from '../model/shipped.js';
import { UserError } from '../util/errors.js';
import { writeFileAtomic } from '../util/fs.js';
import {
  evaluateRun,
  readMetrics,
  type EvaluateOptions,
  type EvaluationReport,
  type EvaluationResult,
} from './evaluate.js';
import type { AverageScores } from '../metrics/classification.js';
import { PLOT_NAMES, writePlots, type PlotFile } from './plots.js';
import { pngFigure, table } from './html.js';
import { trustSections } from './report-trust.js';
import { readRunHistory } from '../model/history.js';
import { reloadEvalData } from './eval-data.js';
import { escapeMarkup } from '../util/markup.js';
import * as tf from '@tensorflow/tfjs';
import type { ImageSet } from '../data/types.js';
import { BACKENDS, type BackendName } from '../backend/names.js';
import { Predictor } from '../predict/predictor.js';
import { SUMMARY_HEADER, summaryCells, summaryTotals } from '../model/summary.js';
import { writeInsidePlots, type InsideResult } from './inside.js';
import { finetuneSection } from './report-finetune.js';
import { baselinesSection } from './baselines-section.js';

export interface ReportOptions {
  /** An evaluation just made (with its pictures), e.g. by `npm start` after training: skips re-rendering. */
  evaluation?: EvaluationResult;
  /** When the run has no metrics.json yet, it is evaluated first, with these settings. */
  evaluate?: Pick<EvaluateOptions, 'backend' | 'threads'>;
}

export const REPORT_SECTIONS = [
  'headline',
  'finetune',
  'curves',
  'confusion',
  'per-class',
  'calibration',
  'errors',
  'network',
  'feature-maps',
  'embedding',
  'baselines',
  'data',
  'config',
] as const;

const pct = (x: number, digits = 2) => `${(x * 100).toFixed(digits)}%`;
const fixed = (x: number, digits = 4) => x.toFixed(digits);

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return 'n/a';
  if (seconds < 90) return `${seconds.toFixed(1)} s`;
  const minutes = Math.floor(seconds / 60);
  return minutes < 90 ? `${minutes} min ${Math.round(seconds % 60)} s` : `${(seconds / 3600).toFixed(1)} h`;
}

async function inlinePicture(
  plot: PlotFile | undefined,
  alt: string,
  whenMissing = `No ${alt} picture.`,
): Promise<string> {
  if (!plot) return whenMissing ? `<p class="missing">${escapeMarkup(whenMissing)}</p>` : '';
  return pngFigure(await readFile(plot.pngPath), alt);
}

/** A picture drawn as SVG around small PNG tiles (inside.ts): the SVG itself, crisp and a fraction of the PNG's bytes. */
async function inlineSvg(plot: PlotFile | undefined, whenMissing: string): Promise<string> {
  if (!plot) return whenMissing ? `<p class="missing">${escapeMarkup(whenMissing)}</p>` : '';
  const svg = (await readFile(plot.svgPath, 'utf8')).replace(/^<\?xml[^>]*>\s*/, '');
  return `<figure class="svg">${svg}</figure>`;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function networkSection(inside: InsideResult): string {
  const totals = summaryTotals(inside.summary)
    .map((line) => `<li>${escapeMarkup(line)}</li>`)
    .join('');
  return `<p>Layer by layer, as <code>mnist-cnn train --summary</code> prints it: each layer's output shape for one image, its parameters, and its multiply-adds for one image (a multiplication and an addition count as one; pooling and activations only compare).</p>
${table([...SUMMARY_HEADER], summaryCells(inside.summary), 'num summary')}<ul class="totals">${totals}</ul>`;
}

function embeddingText(inside: InsideResult, meta: RunMetadata): string {
  const e = inside.embedding;
  if (!e) return '<p class="missing">No embedding map: the model has no hidden layer before its last dense layer.</p>';
  const count = (n: number) => n.toLocaleString('en-US');
  const sample =
    e.points < e.of
      ? `${count(e.points)} of the ${count(e.of)} images, a sample stratified by class (UMAP's time grows faster than the number of points)`
      : `all ${count(e.of)} images`;
  const training =
    Number.isFinite(meta.trainingSeconds) && meta.trainingSeconds > 0
      ? `, ${((e.activationMs + e.umapMs) / 10 / meta.trainingSeconds).toFixed(1)}% of the training time`
      : '';
  return `<p>Each point is an image: the ${e.dimensions} values of <code>${escapeMarkup(e.layer)}</code>, what the last dense layer reads, projected to two dimensions by UMAP (umap-js, 15 neighbours, seeded from the run's seed), for ${sample}. Images of one class that land together were told apart by the layers before; ${count(e.misclassified)} of these ${count(e.points)} are misclassified (ringed). Computed in ${seconds(e.activationMs + e.umapMs)} (the layer's values ${seconds(e.activationMs)}, UMAP ${seconds(e.umapMs)}${training}).</p>`;
}

function headline(meta: RunMetadata, m: EvaluationReport): string {
  const cards: [string, string][] = [
    [m.split === 'test' ? 'test accuracy' : `${m.split} accuracy`, pct(m.accuracy)],
    ['loss (cross-entropy)', fixed(m.loss)],
    ['errors', `${m.errors} of ${m.n}`],
    ['architecture', meta.arch],
    ['parameters', meta.params.toLocaleString('en-US')],
    ['training time', duration(meta.trainingSeconds)],
    ['epochs', `${meta.epochsCompleted} (best ${meta.bestEpoch}, val acc ${pct(meta.bestValAccuracy)})`],
    ['seed', String(meta.seed)],
  ];
  const verified = meta.data.files.filter((f) => f.verified).length;
  const versions = Object.entries(meta.versions)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  return `<div class="cards">${cards.map(([k, v]) => `<div class="card"><div class="k">${escapeMarkup(k)}</div><div class="v">${escapeMarkup(v)}</div></div>`).join('')}</div>
<p>Evaluated on ${escapeMarkup(m.data)} with the ${escapeMarkup(m.backend)} backend, ${escapeMarkup(m.evaluatedAt)}. Run created ${escapeMarkup(meta.createdAt)}${meta.finishedAt ? `, finished ${escapeMarkup(meta.finishedAt)}` : ''}.</p>
<p>Data: ${escapeMarkup(meta.data.dataset)}, ${verified} of ${meta.data.files.length} files verified by SHA-256 (checksums under <a href="#data">Data and versions</a>). Versions: ${escapeMarkup(versions)}.</p>`;
}

function averageRow(name: string, a: AverageScores, n: number): (string | number)[] {
  return [name, fixed(a.precision), fixed(a.recall), fixed(a.f1), n];
}

function perClassTable(m: EvaluationReport): string {
  const rows = m.perClass.map((s) => [
    m.classNames[s.digit] ?? String(s.digit),
    fixed(s.precision),
    fixed(s.recall),
    fixed(s.f1),
    s.support,
  ]);
  rows.push(averageRow('macro average', m.macro, m.n), averageRow('weighted average', m.weighted, m.n));
  return table(['class', 'precision', 'recall', 'F1', 'support'], rows, 'num');
}

function errorsTables(m: EvaluationReport): string {
  const name = (k: number) => m.classNames[k] ?? String(k);
  const pairs = table(
    ['true', 'predicted', 'images'],
    m.confusedPairs.slice(0, 10).map((p) => [name(p.true), name(p.predicted), p.count]),
    'num',
  );
  const worst = table(
    ['image', 'true', 'predicted', 'confidence', 'P(true)'],
    m.worstErrors
      .slice(0, 10)
      .map((e) => [`#${e.index}`, name(e.true), name(e.predicted), pct(e.confidence, 1), pct(e.trueProbability, 1)]),
    'num',
  );
  return `<div class="side"><div><h3>Most-confused pairs</h3>${pairs}</div><div><h3>Worst errors</h3>${worst}</div></div>`;
}

function dataSection(meta: RunMetadata): string {
  const files = table(
    ['file', 'SHA-256', 'verified'],
    meta.data.files.map((f) => [f.name, f.sha256, f.verified ? 'yes' : 'no']),
    'mono',
  );
  const counts = `<p>Dataset <b>${escapeMarkup(meta.data.dataset)}</b> from ${escapeMarkup(meta.data.source.kind)} (${escapeMarkup(meta.data.source.location)}): ${meta.data.trainCount} training, ${meta.data.valCount} validation, ${meta.data.testCount} test images.</p>`;
  const versions = table(
    ['library', 'version'],
    Object.entries(meta.versions).map(([k, v]) => [k, v]),
  );
  const prep = `<p>Preprocessing: ${escapeMarkup(JSON.stringify(meta.preprocessing))}</p>`;
  return `${counts}${files}${prep}<h3>Versions</h3>${versions}<p>Trained with the ${escapeMarkup(meta.backend)} backend.</p>`;
}

const CSS = `
body{font-family:"DejaVu Sans",Arial,Helvetica,sans-serif;color:#222;max-width:1100px;margin:0 auto;padding:16px 24px 48px;line-height:1.45}
h1{font-size:1.6em;margin:.2em 0}h2{font-size:1.25em;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:2em}h3{font-size:1em;margin:.8em 0 .4em}
.sub{color:#666;margin-top:0}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:12px 0}
.card{border:1px solid #ddd;border-radius:6px;padding:8px 12px;min-width:140px;background:#fafafa}
.card .k{font-size:.8em;color:#666}.card .v{font-size:1.2em;font-weight:bold}
table{border-collapse:collapse;margin:8px 0;font-size:.9em}
th,td{border:1px solid #ddd;padding:3px 8px}th{background:#f3f3f3;text-align:left}
table.num td{text-align:right}table.num td:first-child{text-align:left}
table.mono td{font-family:"DejaVu Sans Mono",monospace;font-size:.85em}
figure{margin:8px 0}img{max-width:100%;height:auto}
figure.svg svg{max-width:100%;height:auto;display:block}
table.summary td:first-child{font-family:"DejaVu Sans Mono",monospace;font-size:.9em}ul.totals{margin:4px 0;padding-left:20px}
.side{display:flex;flex-wrap:wrap;gap:32px}
pre{background:#f6f6f6;border:1px solid #ddd;padding:10px;overflow:auto;font-size:.85em}
.missing{color:#a00}
nav a{margin-right:12px}
`;

/**
 * ECE, NLL and Brier score before and after the run's temperature, and where the temperature
 * came from; nothing for a metrics.json made before calibration.
 */
function calibrationTable(m: EvaluationReport, meta: RunMetadata): string {
  if (!m.calibrationScores || m.temperature === undefined) return '';
  const { before, after } = m.calibrationScores;
  const fit = meta.temperatureFit;
  const origin =
    fit?.on === 'val'
      ? `fitted after training on the ${fit.n.toLocaleString('en-US')} validation images by minimising their NLL`
      : fit?.on === 'none'
        ? `not fitted: ${escapeMarkup(fit.reason)}`
        : 'none recorded (a run made before calibration): T = 1';
  const row = (name: string, s: { ece: number; nll: number; brier: number }) =>
    `<tr><td>${name}</td><td>${pct(s.ece)}</td><td>${s.nll.toFixed(4)}</td><td>${s.brier.toFixed(4)}</td></tr>`;
  return `<p>Every answer's probabilities are softmax(log p / T) of the network's p, with the temperature <b>T = ${m.temperature.toFixed(3)}</b> (${origin}); the argmax, hence accuracy, is the same either way.</p>
<table class="summary"><tr><th></th><th>ECE</th><th>NLL</th><th>Brier</th></tr>${row('before (T = 1)', before)}${row(`after (T = ${m.temperature.toFixed(3)})`, after)}</table>`;
}

/** The HTML of a report, from a run's metadata, its metrics and its rendered pictures. */
async function renderReportHtml(
  runDir: string,
  meta: RunMetadata,
  m: EvaluationReport,
  plots: PlotFile[],
  inside: InsideResult,
  set: ImageSet,
): Promise<string> {
  const plot = (name: string) => plots.find((p) => p.name === name) ?? inside.plots.find((p) => p.name === name);
  const title = `mnist-cnn run ${basename(runDir)}`;
  const sections: Record<(typeof REPORT_SECTIONS)[number], [string, string]> = {
    headline: ['Summary', headline(meta, m)],
    finetune: ['Fine-tuning', finetuneSection(meta, m)],
    curves: [
      'Learning curves',
      await inlinePicture(
        plot(PLOT_NAMES.learningCurves),
        'learning curves',
        'No learning curves: the run has no history.csv.',
      ),
    ],
    confusion: ['Confusion matrix', await inlinePicture(plot(PLOT_NAMES.confusionMatrix), 'confusion matrix')],
    'per-class': [
      'Per-class scores',
      `${perClassTable(m)}<p>Top-2 accuracy ${pct(m.topK.top2)}, top-3 accuracy ${pct(m.topK.top3)}. A score that is 0/0 (a class never predicted, or absent) counts as 0.</p>${await inlinePicture(plot(PLOT_NAMES.perClass), 'per-class scores')}`,
    ],
    calibration: [
      'Calibration',
      `<p>Expected calibration error <b>${pct(m.ece)}</b> over ${m.calibration.length} equal-width bins of confidence (the highest probability).</p>${calibrationTable(m, meta)}${await inlinePicture(plot(PLOT_NAMES.reliability), 'reliability diagram')}`,
    ],
    errors: [
      'Errors',
      `${errorsTables(m)}${await inlinePicture(plot(PLOT_NAMES.worstErrors), 'worst errors', 'No errors: every image was classified right.')}${await inlineSvg(plot(PLOT_NAMES.saliency), '')}${await inlinePicture(plot(PLOT_NAMES.confusedPairs), 'most-confused pairs', '')}`,
    ],
    network: [
      'The network',
      `${networkSection(inside)}${await inlineSvg(plot(PLOT_NAMES.filters), 'No filters: the model has no convolution.')}`,
    ],
    'feature-maps': [
      'Feature maps',
      `<p>What each convolution and pooling layer computes from one test image of each class (the first of each in the set), every channel as a small map, after the layer's batch norm and activation; then the hidden dense layer's values, one cell each. Early maps respond to strokes and edges at each place; later ones, smaller, to larger parts.</p>${await inlineSvg(plot(PLOT_NAMES.featureMaps), 'No feature maps: the model has no convolution or pooling layer.')}`,
    ],
    embedding: [
      'Embedding map',
      `${embeddingText(inside, meta)}${await inlinePicture(plot(PLOT_NAMES.embedding), 'embedding map', '')}`,
    ],
    baselines: [
      'The CNN against traditional models',
      await baselinesSection(runDir, join(runDir, RUN_FILES.plots), inlinePicture),
    ],
    data: ['Data and versions', dataSection(meta)],
    config: ['Config', `<pre>${escapeMarkup(JSON.stringify(meta.config, null, 2))}</pre>`],
  };
  // How far the answers can be trusted (report-trust.ts), after the calibration.
  const trust = await trustSections(join(runDir, RUN_FILES.plots), meta, m, set);
  // A section with nothing to say (Fine-tuning, for a run that was not) is left out.
  const shown = REPORT_SECTIONS.filter((id) => sections[id][1] !== '');
  const all = shown.flatMap((id) => [
    { id, title: escapeMarkup(sections[id][0]), html: sections[id][1] },
    ...(id === 'calibration' ? trust : []),
  ]);
  const nav = all.map((s) => `<a href="#${s.id}">${s.title}</a>`).join('');
  const body = all.map((s) => `<section id="${s.id}"><h2>${s.title}</h2>\n${s.html}\n</section>`).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeMarkup(title)}</title><style>${CSS}</style></head>
<body><h1>${escapeMarkup(title)}</h1><p class="sub">${escapeMarkup(meta.arch)} · ${pct(m.accuracy)} ${escapeMarkup(m.split)} accuracy · ${escapeMarkup(runDir)}</p>
<nav>${nav}</nav>
${body}
</body></html>
`;
}

/**
 * Write RUN_DIR/report.html (evaluating the run first when it has no metrics.json; the backend
 * must be started for that). Re-renders the pictures from metrics.json, history.csv and the
 * evaluated images unless `options.evaluation` brings them; draws the pictures of inside the
 * network (inside.ts) with the run's model, loaded here. Returns the report's path.
 */
export async function buildReport(runDir: string, options: ReportOptions = {}): Promise<string> {
  const dir = resolveRunDir(runDir);
  const shipped = shippedModelOf(dir);
  if (shipped)
    throw new UserError(
      `${dir} is the model shipped in the package, read-only: its figures are in release.json; \`mnist-cnn evaluate\` writes its metrics and pictures to evaluations/${shipped}-test here`,
      dir,
    );
  let evaluation = options.evaluation;
  let metrics = evaluation?.metrics ?? (await readMetrics(dir));
  if (!metrics) {
    evaluation = await evaluateRun(dir, options.evaluate);
    metrics = evaluation.metrics;
  }
  const meta = await readMetadata(dir);
  const set = evaluation?.set ?? (await reloadEvalData(metrics.source, dir));
  const plots =
    evaluation && evaluation.outDir === dir && evaluation.plots.length > 0
      ? evaluation.plots
      : await writePlots(join(dir, RUN_FILES.plots), metrics, set, await readRunHistory(dir));
  const inside = await insideTheNetwork(dir, meta, metrics, set, options);
  const path = join(dir, RUN_FILES.report);
  await writeFileAtomic(path, await renderReportHtml(dir, meta, metrics, plots, inside, set));
  return path;
}

/**
 * The pictures of inside the network, from the run's model and spec as a Predictor loads them,
 * on the backend asked for, or the one already running (after training), or wasm.
 */
async function insideTheNetwork(
  dir: string,
  meta: RunMetadata,
  metrics: EvaluationReport,
  set: ImageSet,
  options: ReportOptions,
): Promise<InsideResult> {
  const running = tf.engine().backendName;
  const backend =
    options.evaluate?.backend ??
    ((BACKENDS as readonly string[]).includes(running) ? (running as BackendName) : undefined);
  const predictor = await Predictor.load(dir, { backend });
  try {
    return await writeInsidePlots(
      join(dir, RUN_FILES.plots),
      predictor.model,
      set,
      { classNames: metrics.classNames, worstErrors: metrics.worstErrors },
      { spec: predictor.spec, seed: meta.seed },
    );
  } finally {
    await predictor.close();
  }
}

/**
 * The report's section "The CNN against traditional models", from the run's baselines.json
 * (`mnist-cnn baselines --run RUN`, baselines/run.ts): our measured test error beside the figure
 * of LeCun et al. 1998 for each model, as a table and a bar chart, and the test digits our CNN
 * reads right that every traditional model gets wrong (and the reverse).
 */
import type * as vl from 'vega-lite';
import { loadMnist } from '../data/load.js';
import type { DatasetName } from '../data/types.js';
import {
  BASELINES_FILE,
  disagreements,
  mainCnn,
  readBaselines,
  tableRows,
  testError,
  type BaselinesReport,
} from '../baselines/results.js';
import { escapeMarkup } from '../util/markup.js';
import { renderSpec } from './charts.js';
import { renderGallery, type GalleryItem } from './galleries.js';
import { savePicture, type PlotFile } from './plots.js';

export const BASELINE_PLOTS = {
  chart: 'baselines',
  cnnOnly: 'baselines-cnn-only',
  traditionalOnly: 'baselines-traditional-only',
} as const;

/** Images per disagreement gallery. */
const GALLERY_IMAGES = 24;
const GALLERY_COLUMNS = 8;

const SOURCES = { ours: 'ours (measured)', paper: 'LeCun et al. 1998, Fig. 9' } as const;

/** Test error per model, ours and the paper's side by side, on a log axis (12% and 0.5% on one chart). */
export function baselinesChartSpec(report: BaselinesReport): vl.TopLevelSpec {
  const order = report.models.map((m) => m.name);
  const values = report.models.flatMap((m) => [
    { model: m.name, source: SOURCES.ours, error: testError(m) * 100 },
    ...(m.paper ? [{ model: m.name, source: SOURCES.paper, error: m.paper.errorPercent }] : []),
  ]);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: {
      text: 'Test error, ours beside the paper',
      subtitle: "log axis; the paper's bar is its nearest classifier (the table says which)",
    },
    width: 520,
    height: { step: 26 },
    data: { values },
    encoding: {
      y: { field: 'model', type: 'nominal', sort: order, title: null, axis: { labelLimit: 340 } },
      yOffset: { field: 'source', sort: [SOURCES.ours, SOURCES.paper] },
      x: { field: 'error', type: 'quantitative', title: 'test error (%)', scale: { type: 'log', domain: [0.1, 30] } },
      color: {
        field: 'source',
        type: 'nominal',
        title: null,
        sort: [SOURCES.ours, SOURCES.paper],
        scale: { range: ['#4c78a8', '#bab0ac'] },
        legend: { orient: 'bottom', labelLimit: 300 },
      },
    },
    layer: [
      // A log axis has no zero: bars start at its left end.
      { mark: { type: 'bar' }, encoding: { x2: { datum: 0.1 } } },
      {
        mark: { type: 'text', align: 'left', dx: 3, fontSize: 10 },
        encoding: { text: { field: 'error', type: 'quantitative', format: '.2f' } },
      },
    ],
    config: { font: 'DejaVu Sans, Liberation Sans, Arial, sans-serif', background: 'white' },
  };
}

const pct = (share: number) => `${(share * 100).toFixed(2)}%`;

function tableHtml(report: BaselinesReport): string {
  const { header, rows } = tableRows(report);
  const head = header.map((h) => `<th>${escapeMarkup(h)}</th>`).join('');
  const body = rows
    .map(
      (row, i) =>
        `<tr${report.models[i].kind === 'cnn' ? ' class="ours"' : ''}>${row.map((cell) => `<td>${escapeMarkup(cell)}</td>`).join('')}</tr>`,
    )
    .join('\n');
  const notes = report.models
    .filter((m) => m.subset)
    .map((m) => `<li>* ${escapeMarkup(m.name)}: ${escapeMarkup(m.subset!)}</li>`)
    .join('');
  return `<table class="num"><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>${notes ? `<ul class="totals">${notes}</ul>` : ''}`;
}

function verdict(report: BaselinesReport): string {
  const cnn = mainCnn(report);
  const traditional = report.models.filter((m) => m.kind === 'traditional');
  if (!cnn || traditional.length === 0) return '';
  const best = traditional.reduce((a, b) => (testError(b) < testError(a) ? b : a));
  const beats = traditional.every((m) => m.testErrors > cnn.testErrors);
  return `<p><b>${escapeMarkup(cnn.name)}: ${pct(testError(cnn))} test error</b> (${cnn.testErrors} of ${cnn.testCount}); the best traditional model, ${escapeMarkup(best.name)}: ${pct(testError(best))} (${best.testErrors}). ${beats ? `The CNN makes fewer errors than every traditional model: ${(best.testErrors / Math.max(cnn.testErrors, 1)).toFixed(1)}x fewer than the best of them.` : 'The CNN does <b>not</b> make fewer errors than every traditional model here.'}</p>`;
}

/** The most common wrong answer of the traditional models on image i. */
function commonWrongAnswer(report: BaselinesReport, i: number, truth: string): string {
  const counts = new Map<string, number>();
  for (const m of report.models)
    if (m.kind === 'traditional' && m.predictions && m.predictions[i] !== truth)
      counts.set(m.predictions[i], (counts.get(m.predictions[i]) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? '?';
}

async function galleries(
  report: BaselinesReport,
  plotsDir: string,
): Promise<{ cnnOnly?: PlotFile; traditionalOnly?: PlotFile; counts: { cnnOnly: number; traditionalOnly: number } }> {
  const cnn = mainCnn(report);
  if (!cnn?.predictions) return { counts: { cnnOnly: 0, traditionalOnly: 0 } };
  const test = (await loadMnist({ dataset: report.data.dataset as DatasetName })).test;
  const { cnnOnly, traditionalOnly } = disagreements(report, test.labels);
  const item = (i: number, wrongSide: 'traditional' | 'cnn'): GalleryItem => {
    const truth = String(test.labels[i]);
    const lines =
      wrongSide === 'traditional'
        ? [`#${i}`, `true ${truth}, CNN ${truth}`, `others: ${commonWrongAnswer(report, i, truth)}`]
        : [`#${i}`, `true ${truth}`, `CNN ${cnn.predictions![i]}`];
    return { index: i, lines, wrong: wrongSide === 'cnn' };
  };
  const draw = async (
    indices: number[],
    name: string,
    title: string,
    subtitle: string,
    wrongSide: 'traditional' | 'cnn',
  ) =>
    indices.length === 0
      ? undefined
      : savePicture(
          plotsDir,
          name,
          title,
          await renderGallery(
            test,
            title,
            [{ items: indices.slice(0, GALLERY_IMAGES).map((i) => item(i, wrongSide)) }],
            GALLERY_COLUMNS,
            subtitle,
          ),
        );
  return {
    cnnOnly: await draw(
      cnnOnly,
      BASELINE_PLOTS.cnnOnly,
      'Read right by the CNN, wrong by every traditional model',
      `${cnnOnly.length} test images; "others": the traditional models' most common answer`,
      'traditional',
    ),
    traditionalOnly: await draw(
      traditionalOnly,
      BASELINE_PLOTS.traditionalOnly,
      'Read right by every traditional model, wrong by the CNN',
      `${traditionalOnly.length} test images (red frame: the CNN's error)`,
      'cnn',
    ),
    counts: { cnnOnly: cnnOnly.length, traditionalOnly: traditionalOnly.length },
  };
}

/** How report.ts inlines a picture (PNG as a data URI). */
type Inline = (plot: PlotFile | undefined, alt: string, whenMissing?: string) => Promise<string>;

/**
 * The section's HTML, its pictures written to `plotsDir`; when the run has no baselines.json, a
 * line saying how to make one.
 */
export async function baselinesSection(runDir: string, plotsDir: string, inline: Inline): Promise<string> {
  const report = await readBaselines(runDir);
  if (!report)
    return `<p class="missing">No comparison yet: <code>mnist-cnn baselines --run ${escapeMarkup(runDir)}</code> trains the traditional models on this run's split and writes ${BASELINES_FILE} here.</p>`;
  const chart = await savePicture(
    plotsDir,
    BASELINE_PLOTS.chart,
    'Test error, ours beside the paper',
    await renderSpec(baselinesChartSpec(report)),
  );
  const pictures = await galleries(report, plotsDir);
  const { split } = report.data;
  const intro = `<p>Every model below learnt from the same ${split.trainCount.toLocaleString('en-US')} training images of the seed-${split.seed} split (the CNN's; ${split.valCount.toLocaleString('en-US')} held out to choose settings such as k) with the same preprocessing, and is measured on the ${split.testCount.toLocaleString('en-US')} test images; beside each, the test error ${escapeMarkup(report.citation)} reports for the same or the nearest classifier. Measured on ${escapeMarkup(report.machine.cpu)} (${report.machine.cores} cores), ${escapeMarkup(report.createdAt)}.</p>`;
  const reverse =
    pictures.counts.traditionalOnly === 0
      ? '<p>No test image is read right by every traditional model and wrong by the CNN.</p>'
      : await inline(pictures.traditionalOnly, 'read right by every traditional model, wrong by the CNN');
  return `${intro}${verdict(report)}${tableHtml(report)}${await inline(chart, "test error of each model, ours and the paper's")}<h3>Digits only the CNN reads right</h3>${await inline(pictures.cnnOnly, 'read right by the CNN, wrong by every traditional model', 'No test image is read right by the CNN and wrong by every traditional model.')}<h3>Digits only the traditional models read right</h3>${reverse}`;
}

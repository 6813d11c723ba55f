/**
 * The report's sections on how far the answers can be trusted, from metrics.json's `trust`
 * (evaluate/trust.ts) and the run's fitted rules (metadata.json): how the model refuses ("Not a
 * digit": the rule, its threshold and the validation figures it was fitted on, refusal per
 * category of the generated test split, galleries of refused non-digits, of non-digits it still
 * answers and of digits it refuses), its prediction sets, and its risk-coverage curve. Pictures
 * go to plots/ like the others and inline into the page.
 */
import { PIXELS, type ImageSet } from '../data/types.js';
import { NON_DIGIT_CATEGORIES, drawNonDigit, nonDigitRng, type NonDigitCategory } from '../image/non-digits.js';
import { preprocessImage } from '../image/preprocess.js';
import type { RiskCoverage } from '../metrics/risk-coverage.js';
import type { RunMetadata } from '../model/run.js';
import { setInWords } from '../predict/interpret.js';
import { escapeMarkup } from '../util/markup.js';
import { renderSpec } from './charts.js';
import type { EvaluationReport } from './evaluate.js';
import { renderGallery, type GalleryItem } from './galleries.js';
import { pngFigure, table } from './html.js';
import type { Picture } from './picture.js';
import { savePicture } from './plots.js';
import { reasonKind, type DigitTrust, type NonDigitTrust, type TrustEvaluation } from './trust.js';

export interface ReportSection {
  id: string;
  title: string;
  html: string;
}

const TRUST_PLOT_NAMES = {
  riskCoverage: 'risk-coverage',
  refusedNonDigits: 'refused-non-digits',
  answeredNonDigits: 'answered-non-digits',
  refusedDigits: 'refused-digits',
} as const;

const pct = (x: number, digits = 2) => `${(x * 100).toFixed(digits)}%`;
const COLUMNS = 8;

/** Accuracy of the answered against the share answered, for the digits and their pictures; the default minimum confidence marked. */
function riskCoverageSpec(
  curves: { name: string; rc: RiskCoverage; atDefault: DigitTrust['atDefault'] }[],
  minConfidence: number,
) {
  const lines = curves.flatMap(({ name, rc }) =>
    rc.curve.map((p) => ({ set: name, coverage: p.coverage, accuracy: p.accuracy, threshold: p.threshold })),
  );
  const marks = curves.map(({ name, atDefault }) => ({
    set: name,
    coverage: atDefault.coverage,
    accuracy: atDefault.accuracy,
  }));
  const lowest = Math.min(...lines.filter((p) => p.coverage > 0.9).map((p) => p.accuracy), 0.99);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: {
      text: 'Risk-coverage',
      subtitle: `accuracy of the answered against the share answered, as the minimum confidence rises; points: the default, ${minConfidence}`,
    },
    width: 420,
    height: 280,
    layer: [
      {
        data: { values: lines },
        mark: { type: 'line', clip: true },
        encoding: {
          x: { field: 'coverage', type: 'quantitative', title: 'share answered', scale: { domain: [0.9, 1] } },
          y: {
            field: 'accuracy',
            type: 'quantitative',
            title: 'accuracy of the answered',
            scale: { domain: [Math.max(0.9, Math.floor(lowest * 200) / 200), 1] },
          },
          color: { field: 'set', type: 'nominal', title: null },
        },
      },
      {
        data: { values: marks },
        mark: { type: 'point', filled: true, size: 60, clip: true },
        encoding: {
          x: { field: 'coverage', type: 'quantitative' },
          y: { field: 'accuracy', type: 'quantitative' },
          color: { field: 'set', type: 'nominal' },
        },
      },
    ],
    config: { font: 'DejaVu Sans', background: 'white' },
  } as Parameters<typeof renderSpec>[0];
}

/** A gallery of 28x28 model inputs with captions, as a picture. */
function gallery(
  images: Uint8Array[],
  captions: string[][],
  title: string,
  subtitle: string,
  wrong = false,
): Promise<Picture> {
  const set: ImageSet = {
    images: new Uint8Array(images.length * PIXELS),
    labels: new Uint8Array(images.length),
    count: images.length,
  };
  images.forEach((image, i) => set.images.set(image, i * PIXELS));
  const items: GalleryItem[] = captions.map((lines, index) => ({ index, lines, wrong }));
  return renderGallery(set, title, [{ items }], COLUMNS, subtitle);
}

/** A generated picture as the model saw it (drawn again from its split, seed and number). */
async function nonDigitInput(
  nonDigits: NonDigitTrust,
  category: NonDigitCategory,
  n: number,
  meta: RunMetadata,
): Promise<Uint8Array> {
  return preprocessImage(
    await drawNonDigit(category, nonDigits.split, nonDigitRng(nonDigits.split, nonDigits.seed, category, n)),
    { spec: meta.preprocessing },
  ).pixels;
}

async function notADigitSection(
  meta: RunMetadata,
  trust: TrustEvaluation,
  nonDigits: NonDigitTrust,
  set: ImageSet,
  name: string,
  plotsDir: string,
): Promise<string> {
  const rule = meta.nonDigitRule;
  const ruleText = rule
    ? `<p>A picture is answered "not a digit" when its score, ln p(best digit) − ln p(not a digit) on the network's own probabilities (the 11th output; older runs: the top logit minus the mean logit), is below <b>${rule.below.toFixed(4)}</b> (divided by the temperature for the calibrated probabilities answers show). The threshold was fitted after training on validation data only: it refuses ${pct(rule.digitsRefused)} of the ${rule.digits.toLocaleString('en-US')} validation digits and ${pct(rule.nonDigitsRefused, 1)} of ${rule.nonDigits.toLocaleString('en-US')} validation non-digits (the generator's train split drawn with another seed). Before it, preprocessing refuses what has no ink ('blank'), none big enough ('too small') or none that stands out ('no dominant stroke'); after it, an answer below the minimum confidence (${trust.minConfidence} by default) is "not sure".</p>`
    : '<p class="missing">This run has no fitted not-a-digit threshold.</p>';
  const drawn =
    nonDigits.split === 'test' ? "generated non-digits' test split" : 'validation draws of the generated non-digits';
  const rows = NON_DIGIT_CATEGORIES.map((c) => {
    const f = nonDigits.byCategory[c];
    const reasons = Object.entries(f.reasons)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    return [c, f.n, pct(f.refused, 1), reasons];
  });
  rows.push(['all', rows.reduce((s, r) => s + Number(r[1]), 0), pct(nonDigits.refused, 1), '']);
  const categories = table(['category', 'pictures', 'refused', 'why (pictures)'], rows, 'num');

  // Galleries: refused non-digits (the first of each category that was), non-digits answered, digits refused.
  const refusedItems: { category: NonDigitCategory; n: number }[] = [];
  for (const c of NON_DIGIT_CATEGORIES) {
    const answered = new Set(nonDigits.byCategory[c].answered.map((a) => a.n));
    let taken = 0;
    for (let n = 0; n < nonDigits.perCategory && taken < 2; n++) {
      if (answered.has(n)) continue;
      refusedItems.push({ category: c, n });
      taken++;
    }
  }
  const refusedPicture =
    refusedItems.length === 0
      ? undefined
      : await gallery(
          await Promise.all(refusedItems.map((r) => nonDigitInput(nonDigits, r.category, r.n, meta))),
          refusedItems.map((r) => [r.category, `#${r.n}`]),
          'Refused non-digits',
          `the first two refused pictures of each category of the ${drawn}, as the model saw them`,
        );
  // (Dealt round the categories, so that one category's many do not hide the others'.)
  const answeredItems = Array.from({ length: 4 * COLUMNS }, (_, k) => k)
    .flatMap((k) =>
      NON_DIGIT_CATEGORIES.flatMap((c) =>
        nonDigits.byCategory[c].answered[k] ? [{ category: c, ...nonDigits.byCategory[c].answered[k] }] : [],
      ),
    )
    .slice(0, 4 * COLUMNS);
  const answeredPicture = answeredItems.length
    ? await gallery(
        await Promise.all(answeredItems.map((a) => nonDigitInput(nonDigits, a.category, a.n, meta))),
        answeredItems.map((a) => [a.category, `#${a.n}: ${a.digit} ${pct(a.confidence, 0)}`]),
        'Non-digits it still answers',
        `pictures of the ${drawn} answered with a digit (category, picture, the answer and its confidence)`,
        true,
      )
    : undefined;
  const refusedDigits = trust.digits.refused.slice(0, 4 * COLUMNS);
  const digitsPicture = refusedDigits.length
    ? await gallery(
        refusedDigits.map((r) => set.images.subarray(r.index * PIXELS, (r.index + 1) * PIXELS)),
        refusedDigits.map((r) => [`#${r.index}: a ${r.label}`, reasonKind(r.reason)]),
        'Digits it refuses',
        `${name} digits answered null at the default minimum confidence (${trust.minConfidence}): image, true digit, why`,
        true,
      )
    : undefined;
  const shown = async (picture: Picture | undefined, name: string, title: string, otherwise: string) =>
    picture ? pngFigure(picture.png, (await savePicture(plotsDir, name, title, picture)).title) : `<p>${otherwise}</p>`;
  const digitsLine = `<p>Of the ${trust.digits.n.toLocaleString('en-US')} ${name} digits, ${pct(trust.digits.atDefault.refused)} are answered null at the default minimum confidence; as pictures through the photo pipeline, ${pct(trust.pictured.atDefault.refused)}.</p>`;
  return `${ruleText}
<h3>The ${drawn}</h3><p>${nonDigits.perCategory} pictures of each category, ${nonDigits.split === 'test' ? 'drawn with other seeds, fonts and shapes than anything the run trained or fitted its threshold on' : 'the validation draws its threshold was fitted with (its train split at another seed)'} (image/non-digits.ts), read as <code>predict</code> reads a picture, at the default minimum confidence.</p>${categories}
${await shown(refusedPicture, TRUST_PLOT_NAMES.refusedNonDigits, 'Refused non-digits', `No non-digit of the ${drawn} was refused.`)}
${await shown(answeredPicture, TRUST_PLOT_NAMES.answeredNonDigits, 'Non-digits it still answers', `Every non-digit of the ${drawn} was refused.`)}
<h3>Digits it refuses</h3>${digitsLine}${await shown(digitsPicture, TRUST_PLOT_NAMES.refusedDigits, 'Digits it refuses', 'No test digit was refused.')}`;
}

function setsSection(meta: RunMetadata, trust: TrustEvaluation, name: string): string {
  const record = meta.predictionSets;
  const test = trust.digits.sets;
  if (!record || !test)
    return '<p class="missing">This run has no fitted prediction sets (fitted at the end of training since they exist): answers carry the most likely digit alone.</p>';
  const rule = `<p>Beside its answer, each reading gives a <b>set</b> of digits that holds the true one ${pct(record.coverage, 0)} of the time: the most likely digit, and every other digit whose probability (of the ten digits', scaled to sum to 1) reaches a threshold. Split conformal prediction fitted the thresholds on the ${record.validation.digits.toLocaleString('en-US')} validation digits, in two groups (Mondrian): answers whose top probability is at least ${record.unsureBelow} (sure; ${record.n.sure.toLocaleString('en-US')} validation digits, threshold ${record.sure.toFixed(4)}) and the others (unsure; ${record.n.unsure.toLocaleString('en-US')}, threshold ${record.unsure.toFixed(4)}), so that the promise holds also when the model is unsure. A set of more than one digit ("${setInWords([4, 9])}") is how the model says it is unsure without refusing; a picture taken for no digit has an empty set.</p>`;
  const row = (name: string, s: NonNullable<DigitTrust['sets']>) => [
    name,
    s.n,
    pct(s.coverage),
    pct(s.coverageAnswered),
    s.meanSize.toFixed(3),
    ...['1', '2', '3'].map((k) => s.sizes[k] ?? 0),
    Object.entries(s.sizes)
      .filter(([k]) => Number(k) > 3)
      .reduce((sum, [, v]) => sum + v, 0),
    `${s.groups.unsure.n} (${pct(s.groups.unsure.coverage, 1)})`,
  ];
  const rows = [row(`MNIST ${name}`, test)];
  if (trust.pictured.sets) rows.push(row('the same as pictures', trust.pictured.sets));
  const v = record.validation;
  rows.push([
    'validation (fitted on)',
    v.digits,
    pct(v.coverage),
    '',
    v.meanSize.toFixed(3),
    ...['1', '2', '3'].map((k) => v.sizes[k] ?? 0),
    Object.entries(v.sizes)
      .filter(([k]) => Number(k) > 3)
      .reduce((sum, [, c]) => sum + c, 0),
    '',
  ]);
  return `${rule}${table(['digits', 'images', 'coverage', 'coverage, sets given', 'mean size', 'size 1', 'size 2', 'size 3', 'larger', 'unsure answers (coverage)'], rows, 'num')}<p>Coverage counts a digit refused as no digit (empty set) as a miss; the mean size is of the sets given.</p>`;
}

async function riskCoverageSection(trust: TrustEvaluation, name: string, plotsDir: string): Promise<string> {
  const curves = [
    { name: `MNIST ${name}`, rc: trust.digits.riskCoverage, atDefault: trust.digits.atDefault },
    { name: 'as pictures', rc: trust.pictured.riskCoverage, atDefault: trust.pictured.atDefault },
  ];
  const picture = await renderSpec(riskCoverageSpec(curves, trust.minConfidence));
  const file = await savePicture(plotsDir, TRUST_PLOT_NAMES.riskCoverage, 'Risk-coverage', picture);
  const row = (name: string, d: DigitTrust) => [
    name,
    d.n,
    pct(d.riskCoverage.maxCoverage),
    pct(d.riskCoverage.accuracyAll),
    d.riskCoverage.aurc.toFixed(5),
    pct(d.atDefault.coverage),
    pct(d.atDefault.accuracy),
    d.forTarget ? `${d.forTarget.threshold.toFixed(3)} (${pct(d.forTarget.coverage)} answered)` : 'none',
  ];
  return `<p>Raising the minimum confidence (<code>--min-confidence</code>) answers fewer pictures and gets more of the answered right. The curve's area (AURC: the error rate of the answered averaged over every cut, lower is better) sums it up. The default minimum confidence, ${trust.minConfidence}, was chosen on validation digits and their pictures to keep the answered right at least ${pct(trust.accuracyTarget, 1)} of the time at the highest coverage (docs/trust.md).</p>
${pngFigure(picture.png, file.title)}
${table(['digits', 'images', 'at most answered', 'accuracy, all answered', 'AURC', `answered at ${trust.minConfidence}`, `accuracy at ${trust.minConfidence}`, `lowest threshold for ${pct(trust.accuracyTarget, 1)}`], [row(`MNIST ${name}`, trust.digits), row('the same as pictures', trust.pictured)], 'num')}`;
}

/**
 * The trust sections of a run's report (none for a metrics.json without `trust`): "Not a digit"
 * (for a run that can say so), "Prediction sets" and "Risk-coverage". `set` is the evaluated
 * images (the refused digits' gallery).
 */
export async function trustSections(
  plotsDir: string,
  meta: RunMetadata,
  metrics: EvaluationReport,
  set: ImageSet,
): Promise<ReportSection[]> {
  const trust = metrics.trust;
  if (!trust) return [];
  const name = metrics.split === 'val' ? 'validation' : 'test';
  const sections: ReportSection[] = [];
  if (trust.nonDigits)
    sections.push({
      id: 'not-a-digit',
      title: 'Not a digit',
      html: await notADigitSection(meta, trust, trust.nonDigits, set, name, plotsDir),
    });
  sections.push({ id: 'prediction-sets', title: 'Prediction sets', html: setsSection(meta, trust, name) });
  sections.push({
    id: 'risk-coverage',
    title: 'Risk-coverage',
    html: await riskCoverageSection(trust, name, plotsDir),
  });
  return sections.map((s) => ({ ...s, title: escapeMarkup(s.title) }));
}

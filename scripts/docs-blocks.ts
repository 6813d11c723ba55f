/**
 * The generated parts of README.md and docs/*.md, each made from its one source: the config
 * schema, the shipped model's release.json, the bench JSON kept in bench/results/. A block is the
 * text between `<!-- generated:NAME -->` and `<!-- /generated:NAME -->`. `npm run docs`
 * (scripts/docs.ts) rewrites them; test/docs/generated.test.ts fails when one is stale, so no
 * figure in the docs is typed by hand.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ReleaseRecord } from '../src/model/release.js';
import { RELEASE_FILE } from '../src/model/release.js';
import { shippedModelDir } from '../src/model/shipped.js';
import { configTableMarkdown } from '../src/train/config.js';
import { baselinesTableMarkdown, type BaselinesReport } from '../src/baselines/results.js';
import { browserTrainTable, type BrowserTrainFigures } from '../bench/browser-train-table.js';
import { trustTable } from './docs-trust.js';
import { finetuneMixTable, finetuneTable, type FinetuneFigures, type FinetuneMixFigures } from '../bench/finetune-table.js';

/** The files that may hold generated blocks. */
const DOC_FILES = ['README.md', 'docs/training.md', 'docs/performance.md', 'docs/trust.md', 'docs/baselines.md', 'docs/browser-training.md', 'docs/finetune.md'];

const pct = (x: number, digits = 2) => `${(x * 100).toFixed(digits)}%`;
const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;

/** The model shipped in the package, as its release measured it. */
function shippedModel(): string {
  const release = readJson<ReleaseRecord>(join(shippedModelDir(), RELEASE_FILE));
  const n = release.notADigit;
  const worst = Object.entries(n.byCategory).sort((a, b) => a[1] - b[1])[0];
  return [
    '| measure | the shipped model |',
    '|---|---|',
    `| accuracy on the ${release.test.n.toLocaleString('en-US')} MNIST test images | ${pct(release.test.accuracy)} |`,
    `| calibration error (ECE) of its confidences, same images | ${pct(release.calibration.eceAfter)} |`,
    `| MNIST test digits answered "not a digit" | ${pct(n.mnistTestRefused)} |`,
    `| generated pictures that are no digit answered "not a digit" | ${pct(n.nonDigitsRefused, 1)} (every kind ≥ ${Math.floor(worst[1] * 100)}%) |`,
    '',
    `Made by \`${release.command}\` (the \`${release.recipe}\` recipe, seed ${release.seed}) on ${release.madeAt.slice(0, 10)}, ${release.cpu}${release.commit ? `, commit ${release.commit.slice(0, 7)}` : ''}; \`models/default/release.json\` holds every figure and file checksum.`,
  ].join('\n');
}

/** Every block name and what makes it. A block whose source is missing says so rather than vanish. */
export const BLOCKS: Record<string, () => string> = {
  'config-table': configTableMarkdown,
  'shipped-model': shippedModel,
  // `mnist-cnn baselines --json` on the full data, kept in bench/results/.
  'baselines-table': () => baselinesTableMarkdown(readJson<BaselinesReport>('bench/results/baselines.json')),
  // `npm run bench -- --only browserTrain --json`: the page's Train panel in Chromium against Node.
  'browser-training': () => browserTrainTable(readJson<{ date: string; browserTrain: BrowserTrainFigures }>('bench/results/browser-train.json')),
  // `npm run bench -- --only trust --json --run models/default`, kept in bench/results/ (scripts/docs-trust.ts).
  'trust-figures': trustTable,
  // `npm run bench -- --only finetune --json`, kept in bench/results/.
  'finetune-table': () => {
    const bench = readJson<{ finetune: FinetuneFigures; commit?: string | null }>('bench/results/finetune.json');
    return finetuneTable(bench.finetune, bench);
  },
  // `npx tsx bench/finetune.ts --mix --out bench/results/finetune-mix.json`: where finetune's defaults were chosen.
  'finetune-mix': () => finetuneMixTable(readJson<{ finetuneMix: FinetuneMixFigures }>('bench/results/finetune-mix.json').finetuneMix),
};

const BLOCK = /<!-- generated:([a-z0-9-]+) -->\n[\s\S]*?<!-- \/generated:\1 -->/g;

/** `text` with every generated block made anew; an unknown block name is an error naming the file. */
export function renderBlocks(text: string, file: string): string {
  return text.replace(BLOCK, (_, name: string) => {
    const make = BLOCKS[name];
    if (!make) throw new Error(`${file}: unknown generated block '${name}' (known: ${Object.keys(BLOCKS).join(', ')})`);
    return `<!-- generated:${name} -->\n${make()}\n<!-- /generated:${name} -->`;
  });
}

/** The doc files that exist, with their text now and as generated. */
export function docFiles(): { file: string; text: string; generated: string }[] {
  return DOC_FILES.filter((file) => existsSync(file)).map((file) => {
    const text = readFileSync(file, 'utf8');
    return { file, text, generated: renderBlocks(text, file) };
  });
}

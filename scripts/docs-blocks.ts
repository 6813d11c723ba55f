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
import { performanceGoals } from './docs-performance.js';
import { pct, readJson } from './docs-format.js';
import { abuseIssue24Measured, abuseIssue24Reading, abuseIssue24Sets, abuseIssue24Table } from './docs-limits.js';
import {
  finetuneMixTable,
  finetuneTable,
  type FinetuneFigures,
  type FinetuneMixFigures,
} from '../bench/finetune-table.js';
import { int8Decision, int8Lines, int8SpeedNote, int8Weights8Note, type Int8Figures } from '../bench/int8-table.js';

/** The files that may hold generated blocks. */
const DOC_FILES = [
  'README.md',
  'docs/training.md',
  'docs/performance.md',
  'docs/trust.md',
  'docs/baselines.md',
  'docs/browser-training.md',
  'docs/finetune.md',
  'docs/int8.md',
  'docs/limits.md',
];

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

/** `npm run bench -- --json` of one commit: the figures docs/performance.md reads. */
interface BenchFigures {
  commit: string | null;
  machine: { cpu: string; cores: number; loadAverage: number[] };
  trainImagesPerSecond?: number;
  trainStepMs?: number;
  trainImagesPerSecondByCpu?: number;
  timeTo99Seconds?: number | null;
  timeTo99Epochs?: number;
  peakRssMB?: number;
}

/**
 * bench/results/performance-ab.json: bench runs of two commits in turn (A B A B ...), pair by pair,
 * from one or more calls (each pair names its command); the bench harness is the same on both
 * sides, only the code it measures differs.
 */
interface AbRecord {
  a: { name: string; commit: string };
  b: { name: string; commit: string };
  pairs: { command: string; a: BenchFigures; b: BenchFigures }[];
}

const medianOf = (values: number[]) => {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/**
 * The interleaved A/B of the bench: each figure's median for either commit and the median of the
 * pairs' ratios (the machine is shared: a ratio taken pair by pair survives its drifting speed
 * where two separate runs would not).
 */
function performanceAb(): string {
  const record = readJson<AbRecord>('bench/results/performance-ab.json');
  const rows: [string, keyof BenchFigures, 'higher' | 'lower', (x: number) => string][] = [
    [
      'training, default net, batch 128, 2 threads (images/s)',
      'trainImagesPerSecond',
      'higher',
      (x) => Math.round(x).toLocaleString('en-US'),
    ],
    ['training step (ms)', 'trainStepMs', 'lower', (x) => x.toFixed(1)],
    [
      "training by the busiest thread's CPU time (images/s on free cores)",
      'trainImagesPerSecondByCpu',
      'higher',
      (x) => Math.round(x).toLocaleString('en-US'),
    ],
    ['time to 99.0% test accuracy, from process start (s)', 'timeTo99Seconds', 'lower', (x) => x.toFixed(1)],
    ['epochs to 99.0%', 'timeTo99Epochs', 'lower', (x) => x.toFixed(2)],
  ];
  const lines = [
    `| measure | ${record.b.name} | ${record.a.name} | speed-up, median of the pairs |`,
    '|---|---|---|---|',
  ];
  for (const [label, key, better, format] of rows) {
    const pairs = record.pairs.filter((p) => typeof p.a[key] === 'number' && typeof p.b[key] === 'number');
    if (pairs.length === 0) continue;
    const ratios = pairs.map((p) =>
      better === 'higher' ? (p.a[key] as number) / (p.b[key] as number) : (p.b[key] as number) / (p.a[key] as number),
    );
    lines.push(
      `| ${label} | ${format(medianOf(pairs.map((p) => p.b[key] as number)))} | ${format(medianOf(pairs.map((p) => p.a[key] as number)))} | ${medianOf(ratios).toFixed(2)}x (${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}) |`,
    );
  }
  const machine = record.pairs[0].a.machine;
  const loads = record.pairs.flatMap((p) => [p.a.machine.loadAverage[0], p.b.machine.loadAverage[0]]);
  const commands = [...new Set(record.pairs.map((p) => p.command))];
  const calls = commands
    .map((command) => `\`${command}\` (${record.pairs.filter((p) => p.command === command).length} pairs)`)
    .join(' and ');
  lines.push(
    '',
    `${calls}, run in turn on ${machine.cpu} (${machine.cores} cores), ${record.b.name} at ${record.b.commit} and ${record.a.name} at ${record.a.commit}. The machine was shared (load average ${Math.min(...loads).toFixed(1)}-${Math.max(...loads).toFixed(1)} when the runs began): the wall-clock figures are far slower than on a quiet machine and only their ratios carry over; the CPU-time figure is what the busiest training thread would need of a free core.`,
  );
  return lines.join('\n');
}

/** `node --import tsx bench/kernels.ts --cpu-time` (bench/results/kernels.json). */
interface KernelsReport {
  cpu: string;
  unit: string;
  clockMHz?: number;
  ceilingGflopsPerCore: number;
  trainingLoop: {
    threads: number;
    batch: number;
    cpuMsPerStepByThread: number[];
    estimatedImagesPerSecondOnFreeCores: number;
  };
  kernels: Record<string, { stock?: number | null; baseline?: number | null; ours: number; oursGflops?: number }>;
  /** Our kernels that each replace many tfjs ops, against those ops. */
  fused?: Record<string, { baseline: number; ours: number }>;
  trainingStep: Record<string, { stepBaseline: number; stepOurs: number }>;
  loadAverage1m: { atStart: number; atEnd: number };
}

/** Our wasm training kernels against the baseline formulation, one process, CPU time. */
function kernelsTable(): string {
  const report = readJson<KernelsReport>('bench/results/kernels.json');
  const ms = (x: number | null | undefined) => (typeof x === 'number' ? x.toFixed(2) : '-');
  const lines = [
    '| kernel, batch 128 unless said | stock ms | baseline ms | ours ms | the faster of the two / ours | ours GFLOP/s (direct-arithmetic count) |',
    '|---|---|---|---|---|---|',
  ];
  for (const [name, k] of Object.entries(report.kernels)) {
    const others = [k.stock, k.baseline].filter((x): x is number => typeof x === 'number');
    const ratio = others.length ? `${(Math.min(...others) / k.ours).toFixed(2)}x` : '-';
    lines.push(`| ${name} | ${ms(k.stock)} | ${ms(k.baseline)} | ${ms(k.ours)} | ${ratio} | ${k.oursGflops ?? '-'} |`);
  }
  if (report.fused) {
    lines.push(
      '',
      '| one kernel in place of many ops | tfjs ops ms | ours ms | tfjs ops / ours |',
      '|---|---|---|---|',
    );
    for (const [name, k] of Object.entries(report.fused))
      lines.push(`| ${name} | ${ms(k.baseline)} | ${ms(k.ours)} | ${(k.baseline / k.ours).toFixed(2)}x |`);
  }
  lines.push('', '| training step, one thread | baseline ms | ours ms | baseline / ours |', '|---|---|---|---|');
  for (const [name, s] of Object.entries(report.trainingStep))
    lines.push(
      `| ${name} | ${ms(s.stepBaseline)} | ${ms(s.stepOurs)} | ${(s.stepBaseline / s.stepOurs).toFixed(2)}x |`,
    );
  const loop = report.trainingLoop;
  lines.push(
    '',
    `The training loop itself (\`train\`, default config, ${loop.threads} threads, batch ${loop.batch}): ${loop.cpuMsPerStepByThread.join(' and ')} ms of CPU per step on its threads, i.e. about ${loop.estimatedImagesPerSecondOnFreeCores.toLocaleString('en-US')} images/s on two free cores. Ceiling of one core in 128-bit wasm SIMD without fused multiply-add (16 flops a cycle${report.clockMHz ? ` at the ${report.clockMHz} MHz the OS reports` : ''}): ${report.ceilingGflopsPerCore} GFLOP/s (Winograd convolutions do fewer multiplications than the direct count credits them with, so they can pass it).`,
    `${report.unit}; ${report.cpu}; load average ${report.loadAverage1m.atStart.toFixed(1)} at the start, ${report.loadAverage1m.atEnd.toFixed(1)} at the end. "stock" is the kernel tfjs-backend-wasm ships (it has no filter gradient), "baseline" what ran before our kernels (the shared note's transposed convolutions and upsample + mask, else the stock kernel); "-" where there is none.`,
  );
  return lines.join('\n');
}

/** `node --import tsx bench/step-profile.ts --json` (bench/results/step-profile.json). */
interface StepProfile {
  cpu: string;
  loadAverage: number[];
  arch: string;
  batch: number;
  stepFastest: number;
  stepProfiledMean: number;
  inKernels: number;
  byKernel: Record<string, number>;
  byKernelAndShapes: { kernel: string; ms: number; calls: number }[];
}

/** A training step's CPU time by kernel, and the kernel calls (with their input shapes) that take most. */
function stepProfileTable(): string {
  const profile = readJson<StepProfile>('bench/results/step-profile.json');
  const share = (ms: number) => `${((ms / profile.inKernels) * 100).toFixed(0)}%`;
  const lines = ['| kernel | ms per step | share of the time in kernels |', '|---|---|---|'];
  for (const [name, ms] of Object.entries(profile.byKernel).slice(0, 12))
    lines.push(`| ${name} | ${ms.toFixed(1)} | ${share(ms)} |`);
  lines.push('', '| kernel and input shapes | calls per step | ms per step |', '|---|---|---|');
  for (const row of profile.byKernelAndShapes.slice(0, 12))
    lines.push(`| ${row.kernel.trim()} | ${row.calls} | ${row.ms.toFixed(2)} |`);
  lines.push(
    '',
    `The ${profile.arch} net with the not-a-digit output, batch ${profile.batch}, one wasm thread, Adam: ${profile.stepFastest} ms of CPU per step unprofiled (fastest of 8), ${profile.stepProfiledMean} profiled, ${profile.inKernels} of it in kernels. ${profile.cpu}, load average ${profile.loadAverage[0].toFixed(1)}.`,
  );
  return lines.join('\n');
}

/** `npm run bench -- --only trust --run RUN --json` of an `npm start` run (bench/results/start-trust.json). */
interface StartTrust {
  commit: string | null;
  machine: { cpu: string };
  trust: {
    calibration: { accuracy: number; after: { ece: number }; eceTarget: number };
    openSet: {
      nonDigits: { refused: number };
      mnistTest: { refused: number };
      targets: Record<string, { target: number; met: boolean }>;
    };
  };
}

/** The trust targets of `npm start`'s recipe, as a run trained on these kernels meets them. */
function startTrust(): string {
  const { commit, machine, trust } = readJson<StartTrust>('bench/results/start-trust.json');
  const targets = trust.openSet.targets;
  const met = (ok: boolean) => (ok ? 'met' : 'missed');
  return [
    '| target | goal | this run | |',
    '|---|---|---|---|',
    `| MNIST test accuracy | ≥ 99.40% | ${pct(trust.calibration.accuracy)} | ${met(trust.calibration.accuracy >= 0.994)} |`,
    `| calibration error (ECE), test set | ≤ ${pct(trust.calibration.eceTarget, 1)} | ${pct(trust.calibration.after.ece)} | ${met(trust.calibration.after.ece <= trust.calibration.eceTarget)} |`,
    `| generated non-digits refused, test split | ≥ ${pct(targets.nonDigitsRefused.target, 0)} | ${pct(trust.openSet.nonDigits.refused, 1)} | ${met(targets.nonDigitsRefused.met)} |`,
    `| MNIST test digits refused | ≤ ${pct(targets.mnistTestRefused.target, 1)} | ${pct(trust.openSet.mnistTest.refused)} | ${met(targets.mnistTestRefused.met)} |`,
    '',
    `A run of \`npm start\` (seed 1) on this branch's kernels, measured by \`npm run bench -- --only trust --run RUN --json\` at commit ${commit ?? '?'}; ${machine.cpu}.`,
  ].join('\n');
}

/** Every block name and what makes it. A block whose source is missing says so rather than vanish. */
export const BLOCKS: Record<string, () => string> = {
  'config-table': configTableMarkdown,
  'shipped-model': shippedModel,
  // `mnist-cnn baselines --json` on the full data, kept in bench/results/.
  'baselines-table': () => baselinesTableMarkdown(readJson<BaselinesReport>('bench/results/baselines.json')),
  // Bench runs of this branch and main in turn, kept in bench/results/ (docs/performance.md).
  // `npm run bench -- --json` and `npm run bench:peers -- --json` of one commit (scripts/docs-performance.ts).
  'performance-goals': performanceGoals,
  'performance-ab': performanceAb,
  'kernels-table': kernelsTable,
  'step-profile': stepProfileTable,
  'start-trust': startTrust,
  // `npm run bench -- --only browserTrain --json`: the page's Train panel in Chromium against Node.
  'browser-training': () =>
    browserTrainTable(
      readJson<{ date: string; browserTrain: BrowserTrainFigures }>('bench/results/browser-train.json'),
    ),
  // `npm run bench -- --only trust --json --run models/default`, kept in bench/results/ (scripts/docs-trust.ts).
  'trust-figures': trustTable,
  // `npm run bench -- --only finetune --json`, kept in bench/results/.
  'finetune-table': () => {
    const bench = readJson<{ finetune: FinetuneFigures; commit?: string | null }>('bench/results/finetune.json');
    return finetuneTable(bench.finetune, bench);
  },
  // `npx tsx bench/finetune.ts --mix --out bench/results/finetune-mix.json`: where finetune's defaults were chosen.
  'finetune-mix': () =>
    finetuneMixTable(readJson<{ finetuneMix: FinetuneMixFigures }>('bench/results/finetune-mix.json').finetuneMix),
  // The shipped int8 ONNX copy against the float export (bench/int8.ts; its 8-bit weights' run beside it).
  'int8-tables': () => int8Lines(int8Run()).join('\n'),
  'int8-speed': () => int8SpeedNote(int8Run()),
  'int8-weights8': () => int8Weights8Note(int8Run('bench/results/int8-weights8.json'), int8Run()),
  'int8-decision': () => int8Decision(int8Run()),
  // Issue 24's abuse bench runs, main against this code (bench/results/abuse-issue24-*.json; scripts/docs-limits.ts).
  'abuse-issue24-measured': abuseIssue24Measured,
  'abuse-issue24-table': abuseIssue24Table,
  'abuse-issue24-sets': abuseIssue24Sets,
  'abuse-issue24-reading': abuseIssue24Reading,
};

/** `node --import tsx bench/int8.ts models/default --json`, kept in bench/results/ (docs/int8.md). */
const int8Run = (file = 'bench/results/int8.json') => readJson<{ int8: Int8Figures }>(file).int8;

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

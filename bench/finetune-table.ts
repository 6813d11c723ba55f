/**
 * The figures of the `finetune` bench part (bench/finetune.ts) and their tables: the text output,
 * and docs/finetune.md's measured table (the `finetune-table` block of scripts/docs-blocks.ts,
 * made from bench/results/finetune.json). Kept apart from the bench so that the docs generator
 * loads no model code.
 */
import { FINETUNE_DEFAULTS } from '../src/train/finetune-settings.js';

export interface ReadFigures {
  n: number;
  /** Share read right (a refusal counts as wrong). */
  accuracy: number;
  refused: number;
}

export interface RunFigures {
  run: string;
  newWriters: ReadFigures;
  /** MNIST test accuracy (argmax, as metrics.json), ECE after the run's temperature. */
  mnistTest: { accuracy: number; ece: number; refused: number };
  nonDigitsRefused: number;
}

export interface TimedFinetune {
  corrections: number;
  /** The base model on the same digits the fine-tuned run is measured on (the population but the corrections). */
  before: ReadFigures;
  /** Wall seconds of the whole process (start to exit), its CPU seconds (all threads), the load average before and after. */
  seconds: number;
  cpuSeconds: number;
  loadBefore: number;
  loadAfter: number;
  after: RunFigures;
  heldOut: { count: number; before?: number; after?: number };
}

export interface FinetuneFigures {
  date: string;
  cpu: string;
  cores: number;
  versions: Record<string, string>;
  population: {
    how: string;
    seed: number;
    writers: number;
    perDigit: number;
    digits: number;
    refusedByThePipeline: number;
  };
  base: RunFigures;
  runs: TimedFinetune[];
  targets: Record<string, { target: number; value: number; met: boolean }>;
}

/** docs/finetune.md's measured table, from the bench's JSON (`npm run docs` writes it; test/docs/generated.test.ts keeps the two the same). */
export function finetuneTable(f: FinetuneFigures, bench: { commit?: string | null } = {}): string {
  const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
  const [small] = f.runs;
  const cells = (pick: (r: TimedFinetune) => string) => f.runs.map(pick).join(' | ');
  const header = `| | the shipped model | ${cells((r) => `fine-tuned on ${r.corrections} corrections`)} | target |`;
  const rows = [
    `| new writers' digits read right (the population but the corrections) | ${pct(f.base.newWriters.accuracy)} (all ${f.base.newWriters.n.toLocaleString('en-US')}) | ${cells((r) => `${pct(r.after.newWriters.accuracy)} (of ${r.after.newWriters.n.toLocaleString('en-US')}; the shipped model: ${pct(r.before.accuracy)})`)} | ≥ 97% after ${small.corrections} |`,
    `| ... refused (\`digit: null\`) | ${pct(f.base.newWriters.refused)} | ${cells((r) => pct(r.after.newWriters.refused))} | |`,
    `| MNIST test accuracy | ${pct(f.base.mnistTest.accuracy)} | ${cells((r) => `${pct(r.after.mnistTest.accuracy)} (${r.after.mnistTest.accuracy >= f.base.mnistTest.accuracy ? '+' : '−'}${Math.abs((r.after.mnistTest.accuracy - f.base.mnistTest.accuracy) * 100).toFixed(2)})`)} | within 0.15 points |`,
    `| ECE on MNIST test (after the temperature) | ${pct(f.base.mnistTest.ece)} | ${cells((r) => pct(r.after.mnistTest.ece))} | ≤ 1% |`,
    `| generated non-digits' test split refused | ${pct(f.base.nonDigitsRefused)} | ${cells((r) => pct(r.after.nonDigitsRefused))} | ≥ 95% |`,
    `| \`mnist-cnn finetune\`, whole process: wall seconds (CPU seconds; load average before → after) | | ${cells((r) => `${r.seconds} s (${r.cpuSeconds} s CPU; load ${r.loadBefore} → ${r.loadAfter})`)} | ≤ 60 s |`,
  ];
  const note = `Measured ${f.date.slice(0, 10)} on ${f.cpu}, ${f.cores} cores (\`npm run bench -- --only finetune\`${bench.commit ? ` at commit ${bench.commit}, finetune's defaults` : ''}, bench/results/finetune.json); population seed ${f.population.seed}: ${f.population.writers} writers, ${f.population.digits.toLocaleString('en-US')} digits.`;
  return [header, `|---|---|${f.runs.map(() => '---|').join('')}---|`, ...rows, '', note].join('\n');
}

/** The text output (without --json): the measured table of docs/finetune.md. */
export function finetuneLines(f: FinetuneFigures): string[] {
  const pct = (x: number | undefined) => (x === undefined ? '-' : `${(x * 100).toFixed(2)}%`);
  return [
    `finetune, ${f.cpu}, ${f.cores} cores, ${f.date}; population seed ${f.population.seed}: ${f.population.writers} writers, ${f.population.digits} digits`,
    `  base: new writers read right ${pct(f.base.newWriters.accuracy)} (refused ${pct(f.base.newWriters.refused)}), MNIST test ${pct(f.base.mnistTest.accuracy)}, ECE ${pct(f.base.mnistTest.ece)}, non-digits refused ${pct(f.base.nonDigitsRefused)}`,
    ...f.runs.map(
      (r) =>
        `  ${r.corrections} corrections: new writers ${pct(r.before.accuracy)} → ${pct(r.after.newWriters.accuracy)} (of ${r.after.newWriters.n}), MNIST test ${pct(r.after.mnistTest.accuracy)}, ECE ${pct(r.after.mnistTest.ece)}, non-digits refused ${pct(r.after.nonDigitsRefused)}; ${r.seconds} s wall, ${r.cpuSeconds} s CPU, load ${r.loadBefore} → ${r.loadAfter}`,
    ),
    `  targets: ${Object.entries(f.targets)
      .map(([k, v]) => `${k} ${v.met ? 'met' : 'NOT met'}`)
      .join(', ')}`,
  ];
}

/** One setting of the mix measured by `bench/finetune.ts --mix` (finetune's flags). */
export interface MixSetting {
  name: string;
  args: string[];
}

export interface FinetuneMixFigures {
  date: string;
  cpu: string;
  cores: number;
  population: { seed: number; writers: number; perDigit: number; corrections: number; measuredOn: number };
  base: { newWriters: ReadFigures; mnistVal: number };
  settings: (MixSetting & {
    seconds: number;
    cpuSeconds: number;
    loadBefore: number;
    loadAfter: number;
    mix: { corrections: number; copies: number; rehearsal: number; share: number };
    newWriters: ReadFigures;
    mnistVal: number;
  })[];
}

/** The mix setting that is finetune's default (the others at their defaults: rehearsal, lr, epochs). */
const DEFAULT_MIX = `user share ${FINETUNE_DEFAULTS.userShare}`;

/** docs/finetune.md's table of the mix (the `finetune-mix` block, from bench/results/finetune-mix.json). */
export function finetuneMixTable(f: FinetuneMixFigures): string {
  const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
  const rows = f.settings.map(
    (s) =>
      `| ${s.name === DEFAULT_MIX ? `**${s.name}: the default**` : s.name} | ${s.mix.corrections} x ${s.mix.copies} + ${s.mix.rehearsal.toLocaleString('en-US')} MNIST (${pct(s.mix.share)}) | ${pct(s.newWriters.accuracy)} | ${pct(s.mnistVal)} (${s.mnistVal >= f.base.mnistVal ? '+' : '−'}${Math.abs((s.mnistVal - f.base.mnistVal) * 100).toFixed(2)}) | ${s.cpuSeconds} |`,
  );
  return [
    "| setting | trained on: corrections x copies + MNIST (corrections' share) | new writers read right | MNIST validation | CPU s |",
    '|---|---|---|---|---|',
    `| the shipped model | | ${pct(f.base.newWriters.accuracy)} | ${pct(f.base.mnistVal)} | |`,
    ...rows,
    '',
    `Measured ${f.date.slice(0, 10)} on ${f.cpu}, ${f.cores} cores (\`npx tsx bench/finetune.ts --mix\`, bench/results/finetune-mix.json; load ${Math.min(...f.settings.map((s) => s.loadBefore))}-${Math.max(...f.settings.map((s) => s.loadAfter))}); development population seed ${f.population.seed}: ${f.population.corrections} corrections, read right on the other ${f.population.measuredOn.toLocaleString('en-US')} digits.`,
  ].join('\n');
}

/** The text output of `bench/finetune.ts --mix`. */
export function finetuneMixLines(f: FinetuneMixFigures): string[] {
  return finetuneMixTable(f).split('\n');
}

/**
 * docs/performance.md's table of issue 30's goals (the generated block `performance-goals`,
 * scripts/docs-blocks.ts), made from one `npm run bench -- --json` (bench/results/bench.json), one
 * `npm run bench:peers -- --json` (bench/results/peers.json) and, where one was run, `npm run
 * bench -- --only best --json` (bench/results/best.json). Each figure is the run's own, with its
 * CPU and load average: ratios within one run carry over to other machines, absolute figures less.
 */
import { existsSync } from 'node:fs';
import { pct, readJson } from './docs-format.js';

interface Machine {
  cpu: string;
  cores: number;
  loadAverage: number[];
}

/** The fields of `npm run bench -- --json` this table reads. */
interface Bench {
  date: string;
  commit: string | null;
  machine: Machine;
  trainImagesPerSecond: number;
  trainImagesPerSecondByCpu: number;
  timeTo99Seconds: number | null;
  startAccuracy: number;
  startSeconds: number;
  /** Where `npm start`'s time goes (bench.ts startRecipe); absent from older runs. */
  startPhases?: {
    beforeTrainingSeconds: number;
    trainingSeconds: number;
    validationAndCheckpointsSeconds: number;
    afterTrainingSeconds: number;
    epochs: number;
  };
  inferByModel: Record<'compact' | 'default', Record<'oneThread' | 'twoThreads', Record<string, number>>>;
  http64RequestsPerSecond: number;
  http64P50Ms: number;
  http64P99Ms: number;
  httpRuntime: string;
}

/** The fields of `npm run bench:peers -- --json` this table reads. */
interface Peers {
  date: string;
  machine: { cpu: string; cores: number };
  pytorch: { timeTo99Seconds: number | null; torchVersion: string; threads: number } | null;
  ours: { timeTo99Seconds: number | null; machine: Machine } | null;
  ratio: { timeTo99PytorchOverOurs: number | null };
}

/** `npm run bench -- --only infer --json` at this commit and at the goals' commit, in turn (bench/results/infer-ab.json). */
interface InferAb {
  runs: { commit: string; inferByModel: Bench['inferByModel'] }[];
}

interface Best {
  date: string;
  commit: string | null;
  machine: Machine;
  bestAccuracy: number;
  bestSeconds: number;
  bestRecipe?: { members: number };
}

const n = (x: number) => Math.round(x).toLocaleString('en-US');
const verdict = (met: boolean) => (met ? 'met' : '**missed**');
const load = (m: Machine) => m.loadAverage.map((x) => x.toFixed(1)).join(', ');

/** `npm start`'s time by phase, where the bench measured it. */
function startPhases(bench: Bench): string {
  const p = bench.startPhases;
  if (!p) return '';
  const s = (x: number) => `${Math.round(x)} s`;
  return ` (before the first step ${s(p.beforeTrainingSeconds)}, ${p.epochs} epochs' training ${s(p.trainingSeconds)}, their validation and checkpoints ${s(p.validationAndCheckpointsSeconds)}, after the last epoch ${s(p.afterTrainingSeconds)})`;
}

export function performanceGoals(): string {
  const bench = readJson<Bench>('bench/results/bench.json');
  const peers = readJson<Peers>('bench/results/peers.json');
  const best = existsSync('bench/results/best.json') ? readJson<Best>('bench/results/best.json') : undefined;
  const ratio = peers.ratio.timeTo99PytorchOverOurs;
  const onnx = (arch: 'compact' | 'default') => bench.inferByModel[arch].twoThreads.onnx;
  const rows = [
    '| measure | goal | measured | |',
    '|---|---|---|---|',
    `| time to 99.0%, PyTorch's examples/mnist over ours, one \`bench:peers\` run | ≥ 20x | ${ratio ?? '-'}x (PyTorch ${peers.pytorch?.timeTo99Seconds?.toFixed(1) ?? '-'} s, ours ${peers.ours?.timeTo99Seconds?.toFixed(1) ?? '-'} s) | ${verdict((ratio ?? 0) >= 20)} |`,
    `| \`npm start\` (seed 1), whole command | ≥ 99.5% in ≤ 180 s | ${pct(bench.startAccuracy)} in ${Math.round(bench.startSeconds)} s${startPhases(bench)} | ${verdict(bench.startAccuracy >= 0.995 && bench.startSeconds <= 180)} |`,
    `| training, default net, batch 128, 2 threads | ≥ 2,000 images/s | ${n(bench.trainImagesPerSecond)} images/s (${n(bench.trainImagesPerSecondByCpu)} by the busiest thread's CPU time) | ${verdict(bench.trainImagesPerSecond >= 2000)} |`,
    best
      ? `| best recipe (${best.bestRecipe?.members ?? 3} members + TTA) | ≥ 99.75% in ≤ 2 h | ${pct(best.bestAccuracy)} in ${n(best.bestSeconds)} s | ${verdict(best.bestAccuracy >= 0.9975 && best.bestSeconds <= 7200)} |`
      : '| best recipe (3 members + TTA) | ≥ 99.75% in ≤ 2 h | not run | |',
    `| batch inference, ONNX Runtime, 2 threads, compact / default net | keep (112,793 / 48,027 images/s) | ${n(onnx('compact'))} / ${n(onnx('default'))} images/s | |`,
    `| HTTP \`/v1/predict\`, 28x28 PNG, 64 connections, one process | keep (7,816 requests/s, p99 13 ms) | ${n(bench.http64RequestsPerSecond)} requests/s, p50 ${bench.http64P50Ms} ms, p99 ${bench.http64P99Ms} ms (${bench.httpRuntime}) | |`,
    '',
    `\`npm run bench -- --json\` at commit ${bench.commit ?? '?'} (${bench.date.slice(0, 16).replace('T', ' ')} UTC, load average ${load(bench.machine)} at its start) and \`npm run bench:peers -- --json\` (${peers.date.slice(0, 16).replace('T', ' ')} UTC${peers.ours ? `, load average ${load(peers.ours.machine)} when our side began` : ''}; PyTorch ${peers.pytorch?.torchVersion ?? '-'} on ${peers.pytorch?.threads ?? '-'} threads)${best ? `, \`npm run bench -- --only best --json\` at commit ${best.commit ?? '?'} (load average ${load(best.machine)})` : ''}; ${bench.machine.cpu}, ${bench.machine.cores} cores. bench/results/bench.json, peers.json${best ? ', best.json' : ''}.`,
  ];
  if (existsSync('bench/results/infer-ab.json')) {
    // The "keep" rows against the figures the goals were set with: the same bench at both commits, in turn.
    const { runs } = readJson<InferAb>('bench/results/infer-ab.json');
    const at = runs
      .map(
        (r) =>
          `${r.commit} ${n(r.inferByModel.compact.twoThreads.onnx)} / ${n(r.inferByModel.default.twoThreads.onnx)}`,
      )
      .join(', ');
    const goalsCommit = runs.find((r) => r.commit !== runs[0].commit)?.commit;
    const rate = (commit: string | undefined, arch: 'compact' | 'default') => {
      const of = runs.filter((r) => r.commit === commit).map((r) => r.inferByModel[arch].twoThreads.onnx);
      return of.reduce((a, b) => a + b, 0) / Math.max(1, of.length);
    };
    const gap = Math.max(
      ...(['compact', 'default'] as const).map((arch) =>
        Math.abs(rate(runs[0].commit, arch) / rate(goalsCommit, arch) - 1),
      ),
    );
    rows.push(
      '',
      `The inference bench at this code and at the commit the goals were set at (${goalsCommit}), one after the other (compact / default net, ONNX Runtime, 2 threads, images/s): ${at} (bench/results/infer-ab.json): ${
        gap <= 0.05
          ? `the same within ${(gap * 100).toFixed(1)}%, so where the "keep" rows are below the goals' figures, this machine was slower than on the day they were set`
          : `${(gap * 100).toFixed(1)}% apart`
      }.`,
    );
  }
  return rows.join('\n');
}

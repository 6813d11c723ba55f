import { Option, type Command } from 'commander';
import type { BackendName } from '../../backend/index.js';
import type { EvalSplit } from '../../evaluate/source.js';

const backendOption = () => new Option('--backend <name>', 'TensorFlow.js backend').choices(['wasm', 'cpu', 'tensorflow']).default('wasm');

async function startBackend(name: BackendName): Promise<void> {
  const { initBackend } = await import('../../backend/index.js');
  await initBackend(name);
}

interface EvaluateFlags {
  split: EvalSplit;
  data?: string;
  json?: boolean;
  out?: string;
  tta?: boolean;
  backend: BackendName;
}

export function registerEvaluate(program: Command): void {
  program
    .command('evaluate')
    .description('evaluate a run on the test split (or its validation split, or a labelled dataset): metrics.json, plots/')
    .argument('<run-dir>', 'run folder (runs/latest for the newest)')
    .addOption(new Option('--split <name>', 'which split of the run\'s dataset').choices(['test', 'val']).default('test'))
    .option('--data <path>', 'evaluate on a labelled dataset instead: IDX images file (labels beside it), CSV or class folder')
    .option('--json', 'print the metrics as one JSON object')
    .option('--out <dir>', 'folder for metrics.json and plots/ (default: the run folder)')
    .option('--tta', 'test-time augmentation: average each image\'s probabilities over it and its 4 one-pixel shifts (5x the time)')
    .addOption(backendOption())
    .action(async (runDir: string, flags: EvaluateFlags) => {
      await startBackend(flags.backend);
      const { evaluateRun } = await import('../../evaluate/evaluate.js');
      const { metrics, outDir } = await evaluateRun(runDir, { split: flags.split, data: flags.data, out: flags.out, tta: flags.tta });
      if (flags.json) {
        console.log(JSON.stringify(metrics, null, 2));
        return;
      }
      const { formatSummary } = await import('../../evaluate/format.js');
      console.log(formatSummary(metrics));
      if (metrics.tta) console.log('(test-time augmentation: each image averaged with its 4 one-pixel shifts)');
      console.log(`\nwrote ${outDir}/metrics.json and ${outDir}/plots/`);
    });

  program
    .command('report')
    .description('rebuild a run\'s self-contained report.html (evaluating first if it has no metrics.json)')
    .argument('<run-dir>', 'run folder')
    .addOption(backendOption())
    .action(async (runDir: string, flags: { backend: BackendName }) => {
      const { resolveRunDir } = await import('../../model/run.js');
      const { readMetrics } = await import('../../evaluate/evaluate.js');
      // The model only runs when there is no metrics.json yet.
      if (!(await readMetrics(resolveRunDir(runDir)))) await startBackend(flags.backend);
      const { buildReport } = await import('../../evaluate/report.js');
      console.log(`wrote ${await buildReport(runDir)}`);
    });

  program
    .command('runs')
    .description('list run folders, newest first')
    .option('--dir <dir>', 'folder holding the runs', 'runs')
    .option('--json', 'print one JSON array')
    .action(async (flags: { dir: string; json?: boolean }) => {
      const { listRuns } = await import('../../evaluate/runs.js');
      const runs = await listRuns(flags.dir);
      if (flags.json) console.log(JSON.stringify(runs, null, 2));
      else console.log((await import('../../evaluate/format.js')).formatRuns(runs));
    });

  program
    .command('compare')
    .description('two runs side by side on the test split, and the images one gets right and the other wrong')
    .argument('<run-a>', 'first run folder')
    .argument('<run-b>', 'second run folder')
    .option('--json', 'print one JSON object')
    .addOption(backendOption())
    .action(async (runA: string, runB: string, flags: { json?: boolean; backend: BackendName }) => {
      // A run without test metrics is evaluated in memory, which needs the backend.
      await startBackend(flags.backend);
      const { compareRuns } = await import('../../evaluate/runs.js');
      const comparison = await compareRuns(runA, runB);
      if (flags.json) console.log(JSON.stringify(comparison, null, 2));
      else console.log((await import('../../evaluate/format.js')).formatComparison(comparison));
    });
}

import { Option, type Command } from 'commander';
import type { BackendName, RuntimeName } from '../../backend/names.js';
import type { EvalSplit } from '../../evaluate/eval-data.js';
import { configOption, runtimeOption } from '../options.js';
import { modelOf, modelOption } from '../model-arg.js';

/** Where a model runs: the backend, and the threads that share each batch (both cores by default). */
interface InferenceFlags {
  backend: BackendName;
  threads: number;
}
const addInferenceOptions = (command: Command) =>
  command.addOption(configOption('backend', 'wasm')).addOption(configOption('threads', 2));

interface EvaluateFlags extends InferenceFlags {
  runtime: RuntimeName;
  split: EvalSplit;
  data?: string;
  json?: boolean;
  out?: string;
  tta?: boolean;
  model?: string;
}

export function registerEvaluate(program: Command): void {
  const evaluate = program
    .command('evaluate')
    .description(
      'evaluate a run on the test split (or its validation split, or a labelled dataset): metrics.json, plots/',
    )
    .argument('[run-dir]', 'run folder (runs/latest for the newest); default: the model shipped in the package')
    .addOption(modelOption())
    .addOption(
      new Option('--split <name>', "which split of the run's dataset").choices(['test', 'val']).default('test'),
    )
    .option(
      '--data <path>',
      'evaluate on a labelled dataset instead: IDX images file (labels beside it), CSV or class folder',
    )
    .option('--json', 'print the metrics as one JSON object')
    .option(
      '--out <dir>',
      'folder for metrics.json and plots/ (default: the run folder; with --data, a folder of its own under RUN/evaluations/; for a shipped model, evaluations/<model>-<split> here)',
    )
    .option(
      '--tta',
      "test-time augmentation: average each image's probabilities over it and its 4 one-pixel shifts (5x the time)",
    );
  addInferenceOptions(evaluate)
    .addOption(runtimeOption())
    .action(async (arg: string | undefined, flags: EvaluateFlags) => {
      const runDir = modelOf(arg, flags.model);
      const { evaluateRun } = await import('../../evaluate/evaluate.js');
      const { split, data, out, tta, backend, threads, runtime } = flags;
      const { metrics, outDir } = await evaluateRun(runDir, { split, data, out, tta, backend, threads, runtime });
      if (flags.json) {
        console.log(JSON.stringify(metrics, null, 2));
        return;
      }
      const { formatSummary } = await import('../../evaluate/format.js');
      console.log(formatSummary(metrics));
      if (metrics.tta) console.log('(test-time augmentation: each image averaged with its 4 one-pixel shifts)');
      console.log(`\nwrote ${outDir}/metrics.json and ${outDir}/plots/`);
    });

  addInferenceOptions(
    program
      .command('report')
      .description("rebuild a run's self-contained report.html (evaluating first if it has no metrics.json)")
      .argument('<run-dir>', 'run folder'),
  ).action(async (runDir: string, flags: InferenceFlags) => {
    const { buildReport } = await import('../../evaluate/report.js');
    console.log(`wrote ${await buildReport(runDir, { evaluate: flags })}`);
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

  addInferenceOptions(
    program
      .command('compare')
      .description('two runs side by side on the test split, and the images one gets right and the other wrong')
      .argument('<run-a>', 'first run folder')
      .argument('<run-b>', 'second run folder')
      .option('--json', 'print one JSON object'),
  ).action(async (runA: string, runB: string, flags: InferenceFlags & { json?: boolean }) => {
    // A run without test metrics is evaluated in memory.
    const { compareRuns } = await import('../../evaluate/runs.js');
    const comparison = await compareRuns(runA, runB, { backend: flags.backend, threads: flags.threads });
    if (flags.json) console.log(JSON.stringify(comparison, null, 2));
    else console.log((await import('../../evaluate/format.js')).formatComparison(comparison));
  });
}

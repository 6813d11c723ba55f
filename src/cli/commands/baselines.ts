import type { Command } from 'commander';
import type { BackendName, RuntimeName } from '../../backend/names.js';
import { configOption, runtimeOption } from '../options.js';
import { wholeNumber } from '../parse.js';

interface BaselinesFlags {
  run: string[];
  lenet?: string;
  out?: string;
  limit: number;
  json?: boolean;
  quiet?: boolean;
  threads: number;
  backend: BackendName;
  runtime: RuntimeName;
}

const DEFAULT_OUT = 'runs/baselines';

const collect = (value: string, previous: string[]) => [...previous, value];

export function registerBaselines(program: Command): void {
  program
    .command('baselines')
    .description(
      "train the traditional models of LeCun et al. 1998's comparison (linear, k-NN, PCA, fully connected nets, SVM, random forest) on our split, and measure them beside LeNet-5 and our CNN: baselines.json, a section of the run's report.html",
    )
    .option(
      '--run <dir>',
      "a run of our CNN to compare, repeatable (default: the package's trained model, models/default)",
      collect,
      [],
    )
    .option('--lenet <dir>', 'a LeNet-5 run folder to use instead of training one (train --preset lenet5)')
    .option('--out <dir>', `folder for baselines.json (default: the first --run, else ${DEFAULT_OUT})`)
    .option('--limit <n>', 'a stratified subset of the training images, for a quick look (0: all)', wholeNumber, 0)
    .option('--json', 'print the figures as one JSON object')
    .option('--quiet', 'print no progress, only errors and the result')
    .addOption(configOption('threads', 2))
    .addOption(configOption('backend', 'wasm'))
    .addOption(runtimeOption())
    .action(async (flags: BaselinesFlags) => {
      const { shippedModelDir, shippedModelOf } = await import('../../model/shipped.js');
      const { resolveRunDir } = await import('../../model/run.js');
      // A run folder that does not exist is said now, not after the hour of training the others.
      const runs = (flags.run.length > 0 ? flags.run : [shippedModelDir()]).map(resolveRunDir);
      const lenetRun = flags.lenet === undefined ? undefined : resolveRunDir(flags.lenet);
      // Progress goes to stderr, so that --json's stdout stays one JSON object.
      const log = flags.quiet ? undefined : (message: string) => console.error(message);
      const lenet = lenetRun ?? (await trainLenet5(flags, Boolean(flags.quiet || flags.json)));
      const { runBaselines } = await import('../../baselines/run.js');
      // The shipped model's folder is part of the installed package: nothing is written into it.
      const outDir = flags.out ?? (flags.run.length > 0 && !shippedModelOf(runs[0]) ? runs[0] : DEFAULT_OUT);
      const report = await runBaselines({
        limit: flags.limit,
        cnnRuns: [{ dir: lenet, kind: 'lenet5' }, ...runs.map((dir) => ({ dir, kind: 'cnn' as const }))],
        threads: flags.threads,
        backend: flags.backend,
        runtime: flags.runtime,
        outDir,
        log,
      });
      const { baselinesTableMarkdown, withoutPredictions, BASELINES_FILE } = await import('../../baselines/results.js');
      if (flags.json) {
        console.log(JSON.stringify(withoutPredictions(report), null, 2));
        return;
      }
      console.log(baselinesTableMarkdown(report));
      console.log(
        `\nwrote ${outDir}/${BASELINES_FILE}${outDir === runs[0] ? `; \`mnist-cnn report ${flags.run[0]}\` adds it to the run's report.html` : ''}`,
      );
    });
}

/** LeNet-5 as the project trains it (preset lenet5) on the same split: a run folder under runs/, not pointed at by runs/latest. */
async function trainLenet5(flags: BaselinesFlags, quiet: boolean): Promise<string> {
  const { resolveConfig } = await import('../../train/config-file.js');
  const { train } = await import('../../train/trainer.js');
  const { humanReporter, quietReporter } = await import('../../train/reporter.js');
  const config = resolveConfig({
    preset: 'lenet5',
    flags: { limit: flags.limit, threads: flags.threads, backend: flags.backend },
  });
  const result = await train({ config, reporter: quiet ? quietReporter : humanReporter(), updateLatest: false });
  result.model.dispose();
  return result.dir;
}

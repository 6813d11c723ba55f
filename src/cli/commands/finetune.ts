import type { Command } from 'commander';
import { FINETUNE_DEFAULTS as DEFAULTS } from '../../train/finetune-settings.js';
import { modelOf, modelOption } from '../model-arg.js';
import { configOption } from '../options.js';
import { countingNumber, number, probability, wholeNumber } from '../parse.js';

interface FinetuneFlags {
  model?: string;
  data: string;
  out?: string;
  epochs?: number;
  lr?: number;
  holdout?: number;
  userShare?: number;
  rehearsal?: number;
  seed?: number;
  threads?: number;
  quiet?: boolean;
  json?: boolean;
}

const pct = (x: number | undefined) => (x === undefined ? '-' : `${(x * 100).toFixed(1)}%`);

export function registerFinetune(program: Command): void {
  program
    .command('finetune')
    .description(
      'teach a model your handwriting: fine-tune it on a folder of corrections (0/ .. 9/, not-a-digit/) mixed with MNIST, into a new run folder',
    )
    .argument('[model]', 'the run to start from (default: the model shipped in the package)')
    .addOption(modelOption())
    .requiredOption(
      '--data <dir>',
      'the corrections folder (what `serve --corrections` and `predict --label` file into, or class folders 0/ .. 9/ of your pictures)',
    )
    .option('--out <dir>', 'the new run folder (default: runs/<timestamp>-<arch>)')
    .option(
      '--epochs <n>',
      `epochs over the corrections and the MNIST rehearsal (default ${DEFAULTS.epochs})`,
      countingNumber,
    )
    .option('--lr <x>', `peak learning rate (default ${DEFAULTS.lr})`, number)
    .option(
      '--holdout <x>',
      `share of the corrected digits held out to validate on (default ${DEFAULTS.holdout})`,
      probability,
    )
    .option(
      '--user-share <x>',
      `share of the digits trained on that are corrections (default ${DEFAULTS.userShare})`,
      probability,
    )
    .option(
      '--rehearsal <n>',
      `MNIST training images rehearsed so that the model does not forget them (default ${DEFAULTS.rehearsal})`,
      countingNumber,
    )
    .option(
      '--seed <n>',
      "seed of the held-out share, the rehearsal and training (default: the base run's)",
      wholeNumber,
    )
    .addOption(configOption('threads'))
    .option('--quiet', 'print nothing but errors')
    .option('--json', 'print the fine-tuning record (metadata.json `finetune`) as JSON')
    .action(async (arg: string | undefined, flags: FinetuneFlags) => {
      const { finetune } = await import('../../train/finetune.js');
      const { humanReporter, quietReporter } = await import('../../train/reporter.js');
      const { UserError } = await import('../../util/errors.js');
      const given = {
        epochs: flags.epochs,
        lr: flags.lr,
        holdout: flags.holdout,
        userShare: flags.userShare,
        rehearsal: flags.rehearsal,
        seed: flags.seed,
      };
      const settings = Object.fromEntries(Object.entries(given).filter(([, value]) => value !== undefined));
      if (flags.userShare !== undefined && !(flags.userShare > 0 && flags.userShare < 1))
        throw new UserError(`--user-share ${flags.userShare}: must be above 0 and below 1`);
      if (flags.lr !== undefined && !(flags.lr > 0 && flags.lr < 10))
        throw new UserError(`--lr ${flags.lr}: must be above 0 and below 10`);
      const talk = !flags.quiet && !flags.json;
      const result = await finetune({
        base: modelOf(arg, flags.model),
        data: flags.data,
        outDir: flags.out,
        settings,
        threads: flags.threads,
        reporter: talk ? humanReporter() : quietReporter,
        log: talk ? (message) => console.log(message) : undefined,
      });
      const { holdout } = result.record;
      if (flags.json) console.log(JSON.stringify({ run: result.dir, finetune: result.record }));
      else if (talk) {
        console.log(
          `held-out corrections read right: ${pct(holdout.before?.accuracy)} before, ${pct(holdout.after?.accuracy)} after (${holdout.count} digits)`,
        );
        console.log(
          `run folder: ${result.dir} (its report: mnist-cnn report ${result.dir}; serve it: mnist-cnn serve ${result.dir})`,
        );
      }
    });
}

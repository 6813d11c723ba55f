import type { Command } from 'commander';
import { configOption } from '../options.js';
import type { BackendName } from '../../backend/names.js';

interface EnsembleFlags {
  out: string;
  json?: boolean;
  backend: BackendName;
}

export function registerEnsemble(program: Command): void {
  program
    .command('ensemble')
    .description(
      'average the models of two or more runs into a new run folder (to evaluate, predict and serve like any run)',
    )
    .argument('<run-dirs...>', 'two or more run folders trained on the same dataset')
    .requiredOption('--out <dir>', 'the new run folder (must not hold a run yet)')
    .option('--json', "print the new run's metadata as one JSON object")
    .addOption(configOption('backend', 'wasm'))
    .action(async (runDirs: string[], flags: EnsembleFlags) => {
      const { initBackend } = await import('../../backend/index.js');
      await initBackend(flags.backend);
      const { buildEnsembleRun } = await import('../../model/ensemble.js');
      const { dir, metadata } = await buildEnsembleRun(runDirs, flags.out);
      // The ensemble's own temperature and not-a-digit threshold, on the members' shared validation split.
      const { calibrateRun } = await import('../../evaluate/evaluate.js');
      const calibration = await calibrateRun(dir, { backend: flags.backend });
      if (flags.json) {
        console.log(JSON.stringify({ dir, ...metadata, ...calibration }, null, 2));
        return;
      }
      console.log(
        `wrote ${dir}: an ensemble of ${runDirs.length} runs, ${metadata.params.toLocaleString('en-US')} parameters`,
      );
      const fit = calibration.temperatureFit;
      console.log(
        fit.on === 'val'
          ? `calibration temperature ${calibration.temperature.toFixed(3)}, fitted on ${fit.n} validation images (ECE ${(fit.before.ece * 100).toFixed(2)}% → ${(fit.after.ece * 100).toFixed(2)}%)`
          : `calibration temperature 1: ${fit.reason}`,
      );
      const rule = calibration.nonDigitRule;
      const percent = (share: number) => `${(share * 100).toFixed(1)}%`;
      if (rule)
        console.log(
          `not-a-digit threshold ${rule.below}, fitted on the same images: refuses ${percent(rule.digitsRefused)} of them and ${percent(rule.nonDigitsRefused)} of ${rule.nonDigits} validation non-digits`,
        );
      else if (metadata.nonDigitRule)
        console.log(
          `not-a-digit threshold ${metadata.nonDigitRule.below}: the most lenient member's, not refitted (no shared validation split)`,
        );
      console.log(`evaluate it with: mnist-cnn evaluate ${dir}`);
    });
}

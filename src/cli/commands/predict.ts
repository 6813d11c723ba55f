import { Option, type Command } from 'commander';
import { DEFAULT_MIN_CONFIDENCE } from '../../predict/interpret.js';
import { OUTPUT_FORMATS } from '../../predict/output.js';
import { configOption, runtimeOption } from '../options.js';
import type { BackendName, RuntimeName } from '../../backend/names.js';
import type { OutputFormat } from '../../predict/output.js';
import { countingNumber, probability } from '../parse.js';
import { modelAndInputs, modelOption } from '../model-arg.js';
import { CORRECTION_LABELS, type CorrectionLabel } from '../../data/correction-files.js';

interface PredictFlags {
  format: OutputFormat;
  top: number;
  minConfidence: number;
  explain?: string;
  number?: boolean;
  kaggleSubmission?: string;
  backend: BackendName;
  threads: number;
  runtime: RuntimeName;
  model?: string;
  label?: CorrectionLabel;
  corrections?: string;
}

export function registerPredict(program: Command): void {
  program
    .command('predict')
    .description('read digits from image files, folders, IDX image files or Kaggle CSVs with a trained model')
    .argument(
      '<input...>',
      'images (PNG, JPEG, WebP, GIF, TIFF, AVIF, BMP), folders (searched recursively), IDX image files, Kaggle CSVs; a run folder first reads them with that model (as --model does)',
    )
    .addOption(modelOption())
    .addOption(new Option('--format <format>', 'output format').choices(OUTPUT_FORMATS).default('table'))
    .option('--top <k>', 'show the k most likely digits', countingNumber, 1)
    .option(
      '--min-confidence <x>',
      'below this confidence answer "no digit" rather than guess',
      probability,
      DEFAULT_MIN_CONFIDENCE,
    )
    .option('--explain <dir>', 'write a PNG of every preprocessing stage of each input into this folder')
    .option('--number', 'each image is a number written in a row: read every digit, left to right')
    .option('--kaggle-submission <file>', 'write ImageId,Label for the Kaggle test CSV given as input')
    .addOption(
      new Option(
        '--label <label>',
        'what the pictures really are: file them with --corrections, for `mnist-cnn finetune`',
      ).choices(CORRECTION_LABELS),
    )
    .option('--corrections <dir>', 'with --label: the corrections folder to file the pictures into (made if missing)')
    .addOption(configOption('backend', 'wasm'))
    .addOption(configOption('threads', 1))
    .addOption(runtimeOption())
    .action(async (args: string[], flags: PredictFlags) => {
      const { model, inputs } = modelAndInputs(args, flags.model, 'input');
      const { Predictor } = await import('../../predict/predictor.js');
      const { predictFiles, labelledAccuracy } = await import('../../predict/predict-files.js');
      const { formatRows, kaggleSubmission } = await import('../../predict/output.js');
      const { UserError } = await import('../../util/errors.js');
      if (flags.kaggleSubmission && flags.number)
        throw new UserError('--kaggle-submission reads one digit per CSV row; it cannot be combined with --number');
      if ((flags.label === undefined) !== (flags.corrections === undefined))
        throw new UserError(
          '--label and --corrections go together: --label 7 --corrections DIR files the pictures as 7s into DIR',
        );
      // A quick start where the model is a release (the shipped one): its ONNX file, no TensorFlow.js.
      const predictor = await Predictor.load(model, {
        backend: flags.backend,
        runtime: flags.runtime,
        minConfidence: flags.minConfidence,
        threads: flags.threads,
        quickStart: true,
      });
      try {
        const onSkip = (path: string, reason: string) => console.error(`skipped ${path}: ${reason}`);
        const rows = await predictFiles(predictor, inputs, {
          number: flags.number,
          explain: flags.explain !== undefined,
          onSkip,
        });
        process.stdout.write(formatRows(rows, flags.format, { top: flags.top }));
        const failed = rows.filter((r) => r.error);
        for (const r of failed) console.error(`error: ${r.file}: ${r.error}`);
        const accuracy = labelledAccuracy(rows);
        if (accuracy)
          console.error(
            `accuracy on ${accuracy.n} labelled inputs: ${((100 * accuracy.correct) / accuracy.n).toFixed(2)}%`,
          );
        if (flags.explain) {
          const { writeExplanations } = await import('../../predict/explain.js');
          const written = await writeExplanations(rows, flags.explain);
          console.error(`wrote ${written.length} explanation image(s) to ${flags.explain}`);
        }
        if (flags.kaggleSubmission) {
          if (!rows.some((r) => r.kind === 'csv' && r.prediction))
            throw new UserError('--kaggle-submission needs a Kaggle test CSV (pixel0..pixel783) among the inputs');
          if (failed.length) throw new UserError(`--kaggle-submission: not written, ${failed.length} input(s) failed`);
          const { writeFileAtomic } = await import('../../util/fs.js');
          await writeFileAtomic(flags.kaggleSubmission, kaggleSubmission(rows));
          console.error(`wrote ${flags.kaggleSubmission}`);
        }
        if (flags.label !== undefined && flags.corrections !== undefined) {
          const { fileCorrections } = await import('../../predict/corrections.js');
          const filed = await fileCorrections(predictor, rows, flags.label, flags.corrections);
          for (const { file, reason } of filed.skipped) console.error(`not filed: ${file}: ${reason}`);
          console.error(
            `filed ${filed.filed} correction(s) as ${flags.label} into ${flags.corrections}${filed.already ? ` (${filed.already} already there)` : ''}`,
          );
        }
        if (failed.length) process.exitCode = 1;
      } finally {
        await predictor.close();
      }
    });
}

import { Option, type Command } from 'commander';
import { BACKENDS, type BackendName } from '../../backend/names.js';
import { countingNumber } from '../parse.js';
import { modelOf, modelOption } from '../model-arg.js';

interface ExportFlags {
  format: 'onnx';
  out?: string;
  verify: boolean;
  dataDir?: string;
  opset?: number;
  int8?: boolean;
  quiet?: boolean;
  backend: BackendName;
  model?: string;
}

function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

/**
 * `mnist-cnn export RUN --format onnx`: the run's model as an ONNX file, checked before it is
 * written. The check runs both runtimes on the run's 10,000 test images, which costs seconds, not
 * minutes (TensorFlow.js's pass the larger part), so it is on unless `--no-verify`: an export that does
 * not reproduce the model is refused and leaves no file.
 */
export function registerExport(program: Command): void {
  program
    .command('export')
    .description(
      "write a run's model as an ONNX file (input `image` [N,28,28,1] NHWC, output `probabilities` [N,10]), checked against TensorFlow.js on the test images",
    )
    .argument(
      '[run-dir]',
      'run folder (runs/latest for the newest; ensembles too); default: the model shipped in the package',
    )
    .addOption(modelOption())
    .addOption(new Option('--format <format>', 'file format').choices(['onnx']).makeOptionMandatory())
    .option('--out <file>', 'where to write (default: <run-dir>/model.onnx; for a shipped model, model.onnx here)')
    .option(
      '--no-verify',
      'skip the check: run the ONNX model with ONNX Runtime on the test images and compare with TensorFlow.js',
    )
    .option('--data-dir <dir>', 'folder with the test IDX files for the check (default: where training found them)')
    .option('--opset <n>', 'ONNX opset, 13 to 21', countingNumber, 13)
    .option(
      '--int8',
      "write the int8-quantised copy (default: <run-dir>/model.int8.onnx), calibrated on the run's validation images; its check allows 1% of answers to differ and 0.05 points of test accuracy lost",
    )
    .option('--quiet', 'print nothing but errors')
    .addOption(new Option('--backend <name>', 'TensorFlow.js backend').choices([...BACKENDS]).default('wasm'))
    .action(async (arg: string | undefined, flags: ExportFlags) => {
      const runDir = modelOf(arg, flags.model);
      const { initBackend } = await import('../../backend/index.js');
      await initBackend(flags.backend, { quiet: flags.quiet });
      const { exportRunToOnnx } = await import('../../export/onnx.js');
      const say = (line: string) => {
        if (!flags.quiet) console.log(line);
      };
      const result = await exportRunToOnnx(runDir, flags.out, {
        opset: flags.opset,
        int8: flags.int8 ? { dataDir: flags.dataDir } : undefined,
        check: flags.verify
          ? async (onnxBytes, run) => {
              const {
                assertInt8Agrees,
                assertOnnxAgrees,
                describeInt8Check,
                ONNX_TOLERANCE,
                verifyInt8OnTestImages,
                verifyOnTestImages,
              } = await import('../../export/verify.js');
              const { runTemperature } = await import('../../export/onnx.js');
              if (flags.int8) {
                const int8 = await verifyInt8OnTestImages(onnxBytes, run, {
                  dataDir: flags.dataDir,
                  temperature: runTemperature(run.metadata),
                });
                say(describeInt8Check(int8));
                return assertInt8Agrees(int8);
              }
              const check = await verifyOnTestImages(onnxBytes, run, {
                dataDir: flags.dataDir,
                temperature: runTemperature(run.metadata),
              });
              const n = (k: number) => k.toLocaleString('en-US');
              say(
                `checked on ${n(check.count)} test images: max probability difference ${check.maxAbsDiff.toExponential(1)} (allowed ${ONNX_TOLERANCE.toExponential(0)}), ` +
                  `${n(check.argmaxAgree)} of ${n(check.count)} predicted classes equal (ONNX Runtime ${check.onnxSeconds.toFixed(1)} s, TensorFlow.js ${check.tfjsSeconds.toFixed(1)} s)`,
              );
              assertOnnxAgrees(check);
            }
          : undefined,
      });
      const temperature = result.temperature === undefined ? '' : `, temperature ${result.temperature} folded in`;
      say(
        `wrote ${result.path} (${megabytes(result.bytes)}, ONNX opset ${flags.opset ?? 13}${flags.int8 ? ', int8' : ''}${temperature})`,
      );
    });
}

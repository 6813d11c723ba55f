import { join, resolve } from 'node:path';
import { loadRun, RUN_FILES, runTemperature as temperatureOf, type LoadedRun, type RunMetadata } from '../model/run.js';
import { shippedModelOf } from '../model/shipped.js';
import type { Int8Options } from './int8.js';
import { layersModelToOnnx } from '../model/onnx.js';
import { outputCount } from '../model/architectures.js';
import { NUM_CLASSES } from '../data/types.js';
import { writeFileAtomic } from '../util/fs.js';

/**
 * A run folder's model as an ONNX file: the conversion itself is the model layer's
 * (model/onnx.ts, `layersModelToOnnx`); here the run's input contract goes into the file's
 * metadata_props with its not-a-digit rule, its temperature into the graph, and the file is
 * written atomically after an optional check (verify.ts).
 */

/**
 * The temperature to fold into a run's export: metadata.json's `temperature` (checked by
 * model/run.ts `runTemperature`), or undefined for a run without one (nothing to fold).
 */
export function runTemperature(metadata: RunMetadata): number | undefined {
  return metadata.temperature === undefined || metadata.temperature === null ? undefined : temperatureOf(metadata);
}

/**
 * The not-a-digit threshold on the exported model's output: metadata.json's `nonDigitRule.below`
 * is on the network's own probabilities (T = 1), and the output has the temperature folded in, so
 * divided by it, as the Predictor applies it (predict/predictor.ts); undefined for a run without one.
 */
function runNotADigitBelow(metadata: RunMetadata): number | undefined {
  const below = metadata.nonDigitRule?.below;
  return below === undefined ? undefined : below / (runTemperature(metadata) ?? 1);
}

/**
 * metadata_props `notADigitRule`: how an ONNX user applies `notADigitBelow` to the output, the rule
 * of predict/interpret.ts (`notADigitScore`, `interpretProbabilities`) in words, for a model with
 * the 11th "not a digit" output (`outputs` 11) or one trained with outlier exposure before it.
 */
function notADigitRuleDoc(outputs: number): string {
  const score =
    outputs === NUM_CLASSES + 1
      ? 'where p = the 11 output probabilities (`probabilities`: digits 0-9, then p_10 = not a digit; temperature already folded in) ' +
        'and s = ln(max(max_{k<10} p_k, 1e-30)) - ln(max(p_10, 1e-30)): the margin of the best digit over "not a digit". The digit answered is the argmax of p_0..p_9. '
      : 'where p = the 10 output probabilities (`probabilities`, temperature already folded in) ' +
        'and s = ln(max_k p_k) - (1/10) * sum_k ln(max(p_k, 1e-30)): how far the best digit stands out (0 when all ten are equal). ';
  return (
    'not a digit (answer null) when s < notADigitBelow, ' +
    score +
    'Fitted on validation data to refuse at most 0.3% of the validation digits (mnist-cnn src/predict/non-digit-rule.ts). ' +
    'mnist-cnn checks it before any minimum confidence, and after its preprocessing (`preprocessing`), which also answers null for a blank picture, ink too small, or no dominant stroke.'
  );
}

/**
 * The metadata_props of a run's export: its input contract, as JSON where it is not a plain
 * string, its temperature, and its not-a-digit rule (`notADigitBelow` and `notADigitRule`, the
 * formula for a model of `outputs` probabilities).
 */
function runMetadataProps(metadata: RunMetadata, outputs: number): Record<string, string> {
  const props: Record<string, string> = {
    arch: metadata.arch,
    inputShape: JSON.stringify(metadata.inputShape),
    preprocessing: JSON.stringify(metadata.preprocessing),
    classNames: JSON.stringify(metadata.classNames),
  };
  const temperature = runTemperature(metadata);
  if (temperature !== undefined) props.temperature = String(temperature);
  const notADigitBelow = runNotADigitBelow(metadata);
  if (notADigitBelow !== undefined) {
    props.notADigitBelow = String(notADigitBelow);
    props.notADigitRule = notADigitRuleDoc(outputs);
  }
  return props;
}

export interface RunExport {
  /** Where the model was written. */
  path: string;
  /** Its size in bytes. */
  bytes: number;
  arch: string;
  temperature?: number;
  /** The not-a-digit threshold on the output's not-a-digit score (metadata_props `notADigitBelow`), for a run that has one. */
  notADigitBelow?: number;
}

export interface RunExportOptions {
  opset?: number;
  /**
   * Write the int8-quantised copy instead (export/int8.ts: calibrated on the run's validation
   * images), by default as `<run>/model.int8.onnx`; options of the quantisation, or true.
   */
  int8?: boolean | Int8Options;
  /**
   * Called with the encoded model and the loaded run before anything is written: a check that
   * throws leaves no file behind (the CLI verifies against TensorFlow.js here).
   */
  check?: (onnxBytes: Uint8Array, run: LoadedRun) => Promise<void>;
}

/**
 * Export a run folder's model to ONNX at `outFile` (default `<run>/model.onnx`, or
 * `<run>/model.int8.onnx` for the int8 copy of `options.int8`; in the working folder for a model
 * shipped in the package), written under a
 * temporary name and renamed. The metadata_props carry the run's input contract (arch,
 * inputShape, preprocessing, classNames), its temperature, which is also folded into the
 * graph, and its not-a-digit rule (`notADigitBelow`, `notADigitRule`). The backend must be started first.
 */
export async function exportRunToOnnx(
  runDir: string,
  outFile?: string,
  options: RunExportOptions = {},
): Promise<RunExport> {
  const run = await loadRun(runDir);
  try {
    const temperature = runTemperature(run.metadata);
    let bytes = layersModelToOnnx(run.model, {
      temperature,
      metadata: runMetadataProps(run.metadata, outputCount(run.model)),
      opset: options.opset,
    });
    if (options.int8) {
      // ONNX Runtime (which calibrates) loads only for an int8 export.
      const { quantizeRunOnnx } = await import('./int8.js');
      bytes = await quantizeRunOnnx(bytes, run, options.int8 === true ? {} : options.int8);
    }
    await options.check?.(bytes, run);
    // A model shipped in the package is read-only: its export goes to the working folder.
    const file = options.int8 ? RUN_FILES.onnxInt8 : RUN_FILES.onnx;
    const path = outFile ?? (shippedModelOf(run.dir) ? resolve(file) : join(run.dir, file));
    await writeFileAtomic(path, bytes);
    const notADigitBelow = runNotADigitBelow(run.metadata);
    return {
      path,
      bytes: bytes.length,
      arch: run.metadata.arch,
      temperature,
      ...(notADigitBelow === undefined ? {} : { notADigitBelow }),
    };
  } finally {
    run.model.dispose();
  }
}

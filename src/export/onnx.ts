import { join } from 'node:path';
import { loadRun, runTemperature as temperatureOf, type LoadedRun, type RunMetadata } from '../model/run.js';
import { layersModelToOnnx } from '../model/onnx.js';
import { writeFileAtomic } from '../util/fs.js';

/**
 * A run folder's model as an ONNX file: the conversion itself is the model layer's
 * (model/onnx.ts, `layersModelToOnnx`); here the run's input contract goes into the file's
 * metadata_props, its temperature into the graph, and the file is written atomically after an
 * optional check (verify.ts).
 */

/**
 * The temperature to fold into a run's export: metadata.json's `temperature` (checked by
 * model/run.ts `runTemperature`), or undefined for a run without one (nothing to fold).
 */
export function runTemperature(metadata: RunMetadata): number | undefined {
  return metadata.temperature === undefined || metadata.temperature === null ? undefined : temperatureOf(metadata);
}

/** The metadata_props of a run's export: its input contract, as JSON where it is not a plain string. */
function runMetadataProps(metadata: RunMetadata): Record<string, string> {
  const props: Record<string, string> = {
    arch: metadata.arch,
    inputShape: JSON.stringify(metadata.inputShape),
    preprocessing: JSON.stringify(metadata.preprocessing),
    classNames: JSON.stringify(metadata.classNames),
  };
  const temperature = runTemperature(metadata);
  if (temperature !== undefined) props.temperature = String(temperature);
  return props;
}

const ONNX_FILE = 'model.onnx';

export interface RunExport {
  /** Where the model was written. */
  path: string;
  /** Its size in bytes. */
  bytes: number;
  arch: string;
  temperature?: number;
}

export interface RunExportOptions {
  opset?: number;
  /**
   * Called with the encoded model and the loaded run before anything is written: a check that
   * throws leaves no file behind (the CLI verifies against TensorFlow.js here).
   */
  check?: (onnxBytes: Uint8Array, run: LoadedRun) => Promise<void>;
}

/**
 * Export a run folder's model to ONNX at `outFile` (default `<run>/model.onnx`), written under a
 * temporary name and renamed. The metadata_props carry the run's input contract (arch,
 * inputShape, preprocessing, classNames) and its temperature, which is also folded into the
 * graph. The backend must be started first.
 */
export async function exportRunToOnnx(runDir: string, outFile?: string, options: RunExportOptions = {}): Promise<RunExport> {
  const run = await loadRun(runDir);
  try {
    const temperature = runTemperature(run.metadata);
    const bytes = layersModelToOnnx(run.model, { temperature, metadata: runMetadataProps(run.metadata), opset: options.opset });
    await options.check?.(bytes, run);
    const path = outFile ?? join(run.dir, ONNX_FILE);
    await writeFileAtomic(path, bytes);
    return { path, bytes: bytes.length, arch: run.metadata.arch, temperature };
  } finally {
    run.model.dispose();
  }
}

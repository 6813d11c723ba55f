import assert from 'node:assert/strict';
import { Command } from 'commander';
import onnxProto from 'onnx-proto';
import { registerExport } from '../../src/cli/commands/export.js';
import { initBackend } from '../../src/backend/index.js';
import { loadMnist } from '../../src/data/load.js';
import { scalePixels } from '../../src/data/model-input.js';
import type { ImageSet } from '../../src/data/types.js';

/**
 * What the ONNX test files share (test/model/onnx.test.ts, test/export/onnx.test.ts,
 * test/export/onnx.non-digits.test.ts, test/export/int8.test.ts): the image counts they check on,
 * the MNIST test set scaled to the models' input, an ONNX file's metadata_props, and `export` run
 * in-process. Comparing ONNX Runtime with
 * TensorFlow.js is test/helpers/probabilities.ts's.
 */

/** Test images a net is checked on; the compact net and a trained run get all 10,000. */
export const SOME = 2000;
export const ALL = 10000;

/**
 * For a test file's `before` hook: the wasm backend, and the 10,000 MNIST test images scaled as
 * the models take them (28x28x1 float32), with their labels and the training set.
 */
export async function scaledTestSet(): Promise<{ images: Float32Array; labels: Uint8Array; train: ImageSet }> {
  await initBackend('wasm');
  const data = await loadMnist();
  assert.equal(data.test.count, ALL);
  return { images: scalePixels(data.test.images), labels: data.test.labels, train: data.train };
}

/** An ONNX model's metadata_props as an object, decoded with onnx-proto. */
export function metadataProps(bytes: Uint8Array): Record<string, string> {
  return Object.fromEntries(
    onnxProto.onnx.ModelProto.decode(bytes).metadataProps.map((p) => [p.key ?? '', p.value ?? '']),
  );
}

/** `mnist-cnn export ...` in this process; what it printed (console.log mocked through the test's context). */
export async function exportCli(
  t: { mock: { method: (object: Console, name: 'log', fn: (...args: unknown[]) => void) => unknown } },
  ...args: string[]
): Promise<string[]> {
  const lines: string[] = [];
  t.mock.method(console, 'log', (...parts: unknown[]) => lines.push(parts.join(' ')));
  const program = new Command('mnist-cnn').exitOverride().configureOutput({ writeErr: () => {} });
  registerExport(program);
  for (const command of program.commands) command.exitOverride().configureOutput({ writeErr: () => {} });
  await program.parseAsync(['node', 'mnist-cnn', 'export', ...args]);
  return lines;
}

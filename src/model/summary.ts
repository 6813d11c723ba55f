/**
 * The Keras-style model summary as data and as text: layer, output shape, parameters and
 * multiply-adds per image. `train --summary` prints the text, the report shows the same rows.
 */
import type * as tf from '@tensorflow/tfjs';

interface SummaryRow {
  name: string;
  className: string;
  /** Output shape with the batch axis as null: [null, 28, 28, 32]. */
  outputShape: (number | null)[];
  params: number;
  /** Multiply-adds for one image (a multiplication and an addition count as one). */
  multiplyAdds: number;
}

export interface ModelSummary {
  name: string;
  rows: SummaryRow[];
  params: { total: number; trainable: number; nonTrainable: number };
  multiplyAdds: number;
}

const product = (xs: readonly (number | null)[]) => xs.reduce<number>((a, b) => a * (b ?? 1), 1);

/**
 * Multiply-adds of one layer for one image: a convolution's kernel applied at every output
 * pixel, a dense layer's matrix, batch norm's scale and shift (one per value, folded as at
 * inference). Pooling, activations and reshapes only compare or move values: none.
 */
function multiplyAdds(layer: tf.layers.Layer): number {
  const output = (layer.outputShape as (number | null)[]).slice(1);
  const input = layer.inboundNodes[0]?.inputShapes ?? [];
  // One input (every layer here): its shape without the batch axis.
  const inputShape = (Array.isArray(input[0]) ? input[0] : (input as (number | null)[])).slice(1);
  const config = layer.getConfig();
  const kernel = (config.kernelSize as number[] | number | undefined) ?? 1;
  const kernelArea = Array.isArray(kernel) ? kernel[0] * kernel[1] : kernel * kernel;
  switch (layer.getClassName()) {
    case 'Conv2D':
      return product(output) * kernelArea * (inputShape[inputShape.length - 1] ?? 1);
    case 'DepthwiseConv2D':
      return product(output) * kernelArea;
    case 'SeparableConv2D': {
      const inChannels = inputShape[inputShape.length - 1] ?? 1;
      const depthMultiplier = (config.depthMultiplier as number | undefined) ?? 1;
      const spatial = product(output.slice(0, -1));
      return spatial * inChannels * depthMultiplier * kernelArea + product(output) * inChannels * depthMultiplier;
    }
    case 'Dense':
      return product(inputShape) * (output[output.length - 1] ?? 1);
    case 'BatchNormalization':
      return product(output);
    default:
      return 0;
  }
}

const weightCount = (weights: tf.LayerVariable[]) => weights.reduce((sum, w) => sum + product(w.shape), 0);

/** The summary of a model as data. */
export function modelSummaryRows(model: tf.LayersModel): ModelSummary {
  const rows = model.layers
    .filter((layer) => layer.getClassName() !== 'InputLayer')
    .map((layer) => ({
      name: layer.name,
      className: layer.getClassName(),
      outputShape: layer.outputShape as (number | null)[],
      params: layer.countParams(),
      multiplyAdds: multiplyAdds(layer),
    }));
  const trainable = weightCount(model.trainableWeights);
  const nonTrainable = weightCount(model.nonTrainableWeights);
  return {
    name: model.name,
    rows,
    params: { total: trainable + nonTrainable, trainable, nonTrainable },
    multiplyAdds: rows.reduce((sum, r) => sum + r.multiplyAdds, 0),
  };
}

export const SUMMARY_HEADER = ['Layer (type)', 'Output shape', 'Param #', 'Mult-adds'] as const;

const shapeText = (shape: readonly (number | null)[]) => `[${shape.map((d) => d ?? 'null').join(',')}]`;
const count = (n: number) => n.toLocaleString('en-US');

/** The table's cells, row by row, as both the text and the report show them. */
export function summaryCells(summary: ModelSummary): string[][] {
  return summary.rows.map((r) => [
    `${r.name} (${r.className})`,
    shapeText(r.outputShape),
    count(r.params),
    count(r.multiplyAdds),
  ]);
}

/**
 * The summary's closing lines: total, trainable and non-trainable parameters (unformatted, as
 * Keras and TensorFlow.js print them), multiply-adds per image.
 */
export function summaryTotals(summary: ModelSummary): string[] {
  return [
    `Total params: ${summary.params.total}`,
    `Trainable params: ${summary.params.trainable}`,
    `Non-trainable params: ${summary.params.nonTrainable}`,
    `Multiply-adds per image: ${summary.multiplyAdds} (${(summary.multiplyAdds / 1e6).toFixed(2)} M)`,
  ];
}

/** A Keras-style summary, as text (what `train --summary` prints). */
export function formatModelSummary(summary: ModelSummary): string {
  const cells = summaryCells(summary);
  const widths = SUMMARY_HEADER.map((h, i) => Math.max(h.length, ...cells.map((row) => row[i].length)));
  // Names and shapes to the left, numbers to the right.
  const line = (row: readonly string[]) =>
    row
      .map((cell, i) => (i < 2 ? cell.padEnd(widths[i]) : cell.padStart(widths[i])))
      .join('   ')
      .trimEnd();
  const width = widths.reduce((a, b) => a + b, 0) + 3 * (widths.length - 1);
  return [
    `Model: "${summary.name}"`,
    '_'.repeat(width),
    line(SUMMARY_HEADER),
    '='.repeat(width),
    ...cells.flatMap((row, i) => [line(row), i < cells.length - 1 ? '_'.repeat(width) : '='.repeat(width)]),
    ...summaryTotals(summary),
    '_'.repeat(width),
  ].join('\n');
}

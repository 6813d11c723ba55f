import * as tf from '@tensorflow/tfjs';
import { createRng, type Rng } from '../util/rng.js';
import { UserError } from '../util/errors.js';
import { INPUT_SHAPE, NUM_CLASSES } from '../data/types.js';
import { ARCHITECTURES, type Arch } from './arch-names.js';
import { batchNormalization } from './batch-norm-layer.js';
import { formatModelSummary, modelSummaryRows } from './summary.js';

/** Seeded initialisers, so that the same seed gives the same starting weights. */
function init(rng: Rng) {
  return {
    he: () => tf.initializers.heNormal({ seed: rng.seed() }),
    glorot: () => tf.initializers.glorotUniform({ seed: rng.seed() }),
  };
}

/**
 * LeCun et al. 1998 adapted to 28x28: the first convolution pads ('same') where the original
 * took 32x32 inputs; ReLU and max-pooling in place of the original's tanh and subsampling.
 */
function lenet5(rng: Rng, outputs: number): tf.Sequential {
  const i = init(rng);
  return tf.sequential({
    name: 'lenet5',
    layers: [
      tf.layers.conv2d({
        inputShape: INPUT_SHAPE,
        filters: 6,
        kernelSize: 5,
        padding: 'same',
        activation: 'relu',
        kernelInitializer: i.he(),
      }),
      tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }),
      tf.layers.conv2d({ filters: 16, kernelSize: 5, padding: 'valid', activation: 'relu', kernelInitializer: i.he() }),
      tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 120, activation: 'relu', kernelInitializer: i.he() }),
      tf.layers.dense({ units: 84, activation: 'relu', kernelInitializer: i.he() }),
      tf.layers.dense({ units: outputs, kernelInitializer: i.glorot() }),
      tf.layers.activation({ activation: 'softmax', name: 'probabilities' }),
    ],
  });
}

/** The Keras mnist_convnet example. */
function keras(rng: Rng, outputs: number): tf.Sequential {
  const i = init(rng);
  return tf.sequential({
    name: 'keras',
    layers: [
      tf.layers.conv2d({
        inputShape: INPUT_SHAPE,
        filters: 32,
        kernelSize: 3,
        activation: 'relu',
        kernelInitializer: i.glorot(),
      }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 64, kernelSize: 3, activation: 'relu', kernelInitializer: i.glorot() }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dropout({ rate: 0.5, seed: rng.seed() }),
      tf.layers.dense({ units: outputs, kernelInitializer: i.glorot() }),
      tf.layers.activation({ activation: 'softmax', name: 'probabilities' }),
    ],
  });
}

/**
 * The recipe for training on a CPU: conv-ReLU, then conv-BN-ReLU, each followed by max-pooling, then
 * a dense-BN-ReLU head. Batch norm lets a high one-cycle learning rate converge in few epochs;
 * it is left off the first convolution, where normalising 28x28 activations cost more time per
 * step (on one wasm core) than all the rest of the network.
 */
function convBnNet(name: string, rng: Rng, filters: [number, number], outputs: number): tf.Sequential {
  const i = init(rng);
  return tf.sequential({
    name,
    layers: [
      tf.layers.conv2d({
        inputShape: INPUT_SHAPE,
        filters: filters[0],
        kernelSize: 3,
        padding: 'same',
        activation: 'relu',
        kernelInitializer: i.he(),
      }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({
        filters: filters[1],
        kernelSize: 3,
        padding: 'same',
        useBias: false,
        kernelInitializer: i.he(),
      }),
      batchNormalization({ momentum: 0.9 }),
      tf.layers.activation({ activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 128, useBias: false, kernelInitializer: i.he() }),
      batchNormalization({ momentum: 0.9 }),
      tf.layers.activation({ activation: 'relu' }),
      tf.layers.dense({ units: outputs, kernelInitializer: i.glorot() }),
      tf.layers.activation({ activation: 'softmax', name: 'probabilities' }),
    ],
  });
}

const defaultNet = (rng: Rng, outputs: number) => convBnNet('default', rng, [32, 64], outputs);
/** Half the filters (16 and 32): under a third of the arithmetic per image. For the time-to-99% run and fast inference. */
const compactNet = (rng: Rng, outputs: number) => convBnNet('compact', rng, [16, 32], outputs);

const BUILDERS: Record<Arch, (rng: Rng, outputs: number) => tf.Sequential> = {
  default: defaultNet,
  compact: compactNet,
  lenet5,
  keras,
};

function isArch(name: string): name is Arch {
  return (ARCHITECTURES as readonly string[]).includes(name);
}

/**
 * Build an architecture with weights drawn from `seed`. Every model ends in a softmax over the ten
 * digits, or with `notADigit` over eleven outputs: the ten digits, then "not a digit"
 * (data/types.ts `NOT_A_DIGIT`), for training with non-digit pictures. The 11th output changes
 * only the last layer's shape; the weights before it are drawn as without it.
 */
export function buildModel(arch: string, seed: number, options: { notADigit?: boolean } = {}): tf.Sequential {
  if (!isArch(arch)) throw new UserError(`unknown architecture '${arch}' (choose one of ${ARCHITECTURES.join(', ')})`);
  return BUILDERS[arch](createRng(seed), options.notADigit ? NUM_CLASSES + 1 : NUM_CLASSES);
}

/** How many probabilities the model gives per image: 10, or 11 with the not-a-digit output. */
export function outputCount(model: tf.LayersModel): number {
  const shape = model.outputs[0].shape;
  const outputs = shape[shape.length - 1];
  if (typeof outputs !== 'number') throw new Error(`model '${model.name}' has an output of unknown width`);
  return outputs;
}

/**
 * The same network without its final softmax, sharing its weights: training computes the loss
 * from logits (stable, and label smoothing comes for free).
 */
export function logitsModel(model: tf.LayersModel): tf.LayersModel {
  const last = model.layers[model.layers.length - 1];
  if (last.getConfig().activation !== 'softmax')
    throw new Error('the model does not end in a softmax activation layer');
  const beforeSoftmax = model.layers[model.layers.length - 2];
  return tf.model({ inputs: model.inputs, outputs: beforeSoftmax.output });
}

/** A Keras-style summary, as text, with multiply-adds: the table the report shows (summary.ts). */
export function modelSummary(model: tf.LayersModel): string {
  return formatModelSummary(modelSummaryRows(model));
}

import * as tf from '@tensorflow/tfjs';
import type { BackendName } from '../backend/names.js';
import { startNodeReplicaThread } from '../backend/node-replica-thread.js';
import { ModelReplicas } from '../backend/replicas.js';
import { BatchFiller } from '../data/batches.js';
import { INPUT_SHAPE, NUM_CLASSES, type ImageSet } from '../data/types.js';
import { accuracy, argmaxRows } from '../metrics/classification.js';
import { predictSet } from '../predict/set-inference.js';
import { createRng, deriveSeed } from '../util/rng.js';

/**
 * The fully connected baselines: a softmax over the 784 pixels (multinomial logistic regression,
 * the paper's one-layer linear classifier) and the paper's 28x28-300-10 and 28x28-300-100-10
 * networks, as TensorFlow.js layers. They train as the CNN does (backend/replicas.ts: our wasm
 * kernels, data-parallel on `threads` threads, the images scaled by the model-input contract),
 * with Adam and cross-entropy where the paper used mean squared error; the epoch kept is the one
 * with the lowest validation error.
 */

/** Hidden layer widths of each fully connected baseline (none: logistic regression). */
const DENSE_NETS = {
  logistic: [],
  mlp300: [300],
  mlp300x100: [300, 100],
} as const satisfies Record<string, readonly number[]>;
export type DenseNetName = keyof typeof DENSE_NETS;

/** Flatten, the hidden ReLU layers, ten outputs and a softmax (the layout our training path expects). */
export function denseNet(name: DenseNetName, seed: number): tf.Sequential {
  const rng = createRng(seed);
  const hidden = DENSE_NETS[name].map((units, i) =>
    tf.layers.dense({
      units,
      activation: 'relu',
      kernelInitializer: tf.initializers.heNormal({ seed: rng.seed() }),
      name: `hidden${i + 1}`,
    }),
  );
  return tf.sequential({
    name,
    layers: [
      tf.layers.flatten({ inputShape: INPUT_SHAPE }),
      ...hidden,
      tf.layers.dense({ units: NUM_CLASSES, kernelInitializer: tf.initializers.glorotUniform({ seed: rng.seed() }) }),
      tf.layers.activation({ activation: 'softmax', name: 'probabilities' }),
    ],
  });
}

export interface DenseTraining {
  epochs: number;
  batchSize: number;
  /** Adam's learning rate, constant. */
  lr: number;
  seed: number;
  threads: number;
  backend: BackendName;
  /** Told after every epoch. */
  onEpoch?: (epoch: number, valError: number) => void;
}

export interface DenseResult {
  /** Test predictions of the best epoch's weights. */
  predicted: Uint8Array;
  valError: number;
  bestEpoch: number;
  params: number;
  /** Training, including the validation pass of each epoch. */
  trainSeconds: number;
  predictSeconds: number;
}

/** Train `model` on `train`, keep the epoch with the lowest error on `val`, and read `test` with it. */
export async function trainDenseNet(
  model: tf.LayersModel,
  sets: { train: ImageSet; val: ImageSet; test: ImageSet },
  options: DenseTraining,
): Promise<DenseResult> {
  const { train, val, test } = sets;
  const replicas = await ModelReplicas.start(model, {
    threads: options.threads,
    backend: options.backend,
    maxBatch: Math.max(options.batchSize, 256),
    startThread: startNodeReplicaThread,
  });
  const optimizer = tf.train.adam(options.lr);
  const filler = new BatchFiller(options.batchSize, replicas.batch);
  let best: { error: number; epoch: number; weights: tf.Tensor[] } | undefined;
  const started = performance.now();
  try {
    for (let epoch = 0; epoch < options.epochs; epoch++) {
      const order = createRng(deriveSeed(options.seed, epoch)).shuffle(
        Uint32Array.from({ length: train.count }, (_, i) => i),
      );
      for (let start = 0; start < train.count; start += options.batchSize) {
        const n = filler.fill(train, order, start, Math.min(train.count, start + options.batchSize));
        await replicas.step(n, optimizer, 0, () => []);
      }
      const error = 1 - accuracy(val.labels, argmaxRows(await predictSet(replicas, val)));
      options.onEpoch?.(epoch + 1, error);
      if (!best || error < best.error) {
        tf.dispose(best?.weights ?? []);
        best = { error, epoch: epoch + 1, weights: model.getWeights().map((w) => w.clone()) };
      }
    }
    const trainSeconds = (performance.now() - started) / 1000;
    model.setWeights(best!.weights);
    replicas.weightsChanged();
    const predicting = performance.now();
    const predicted = argmaxRows(await predictSet(replicas, test));
    return {
      predicted,
      valError: best!.error,
      bestEpoch: best!.epoch,
      params: model.countParams(),
      trainSeconds,
      predictSeconds: (performance.now() - predicting) / 1000,
    };
  } finally {
    tf.dispose(best?.weights ?? []);
    optimizer.dispose();
    await replicas.close();
  }
}

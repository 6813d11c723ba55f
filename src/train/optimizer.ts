import * as tf from '@tensorflow/tfjs';
import { FusedAdam } from './adam.js';
import type { OptimizerName } from './optimizer-names.js';

/** The config keys an optimizer reads (train/config.ts documents each). */
export interface OptimizerSettings {
  optimizer: OptimizerName;
  lr: number;
  momentum: number;
}

const OPTIMIZER_BUILDERS: Record<OptimizerName, (config: OptimizerSettings) => tf.Optimizer> = {
  // tf.train.adam's defaults (β1 0.9, β2 0.999, the backend's ε), its update fused (adam.ts).
  adam: (config) => new FusedAdam(config.lr, 0.9, 0.999),
  sgd: (config) => tf.train.momentum(config.lr, config.momentum, true),
};

/** Build the optimizer a config names, at its peak learning rate (the schedule sets it per step). */
export function makeOptimizer(config: OptimizerSettings): tf.Optimizer {
  return OPTIMIZER_BUILDERS[config.optimizer](config);
}

export function setLearningRate(optimizer: tf.Optimizer, lr: number): void {
  // SGD and momentum cache -lr in a tensor (setLearningRate rebuilds it); Adam reads its
  // (protected) learningRate field at every step. (tfjs optimizers' instanceof matches by
  // serialisation name, not class, so ask for the method itself.)
  const sgd = optimizer as unknown as { setLearningRate?: (lr: number) => void; learningRate: number };
  if (typeof sgd.setLearningRate === 'function') sgd.setLearningRate(lr);
  else sgd.learningRate = lr;
}

/**
 * Load saved optimizer state. Adam's setWeights recomputes beta^(t+1) with pow, while a run that
 * never stopped got there by t float32 multiplications; the two differ in the last bit, enough to
 * make a resumed run drift. Replaying the multiplications makes resume exact.
 */
export async function restoreOptimizer(
  optimizer: tf.Optimizer,
  weights: { name: string; tensor: tf.Tensor }[],
): Promise<void> {
  await optimizer.setWeights(weights);
  const adam = optimizer as unknown as {
    accBeta1?: tf.Variable;
    accBeta2?: tf.Variable;
    beta1: number;
    beta2: number;
    iterations: number;
  };
  if (!adam.accBeta1 || !adam.accBeta2) return;
  const replay = (beta: number) => {
    let acc = Math.fround(beta);
    for (let t = 0; t < adam.iterations; t++) acc = Math.fround(acc * Math.fround(beta));
    return acc;
  };
  tf.tidy(() => {
    adam.accBeta1!.assign(tf.scalar(replay(adam.beta1)));
    adam.accBeta2!.assign(tf.scalar(replay(adam.beta2)));
  });
}

import * as tf from '@tensorflow/tfjs';
import { ADAM_UPDATE_KERNEL } from '../backend/names.js';

/** AdamOptimizer's fields that its subclass reads (protected in the typings). */
interface AdamState {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: { originalName: string; variable: tf.Variable }[];
  accumulatedSecondMoment: { originalName: string; variable: tf.Variable }[];
}

/**
 * tfjs's Adam, each variable's update one kernel where the backend has it (the wasm backend:
 * backend/adam.ts) instead of a dozen elementwise ops: the same numbers to the bit, the same
 * state, weights and class name, so checkpoints and resume are as with tf.train.adam.
 */
export class FusedAdam extends tf.AdamOptimizer {
  override applyGradients(variableGradients: Parameters<tf.AdamOptimizer['applyGradients']>[0]): void {
    if (!tf.getKernel(ADAM_UPDATE_KERNEL, tf.getBackend()) || Array.isArray(variableGradients)) {
      super.applyGradients(variableGradients);
      return;
    }
    const self = this as unknown as AdamState;
    const c1 = 1 - (self.accBeta1.dataSync()[0] ?? 0);
    const c2 = 1 - (self.accBeta2.dataSync()[0] ?? 0);
    const attrs = { beta1: self.beta1, beta2: self.beta2, c1, c2, epsilon: self.epsilon, lr: self.learningRate };
    tf.tidy(() => {
      Object.keys(variableGradients).forEach((name, i) => {
        const value = tf.engine().registeredVariables[name];
        const moment = (originalName: string) => ({ originalName, variable: tf.zerosLike(value).variable(false) });
        self.accumulatedFirstMoment[i] ??= moment(`${name}/m`);
        self.accumulatedSecondMoment[i] ??= moment(`${name}/v`);
        const gradient = variableGradients[name];
        if (gradient == null) return;
        const m = self.accumulatedFirstMoment[i].variable;
        const v = self.accumulatedSecondMoment[i].variable;
        const [newValue, newM, newV] = tf
          .engine()
          .runKernel<tf.Tensor[]>(ADAM_UPDATE_KERNEL, { value, m, v, gradient }, attrs);
        m.assign(newM);
        v.assign(newV);
        value.assign(newValue);
      });
      self.accBeta1.assign(tf.mul(self.accBeta1, self.beta1));
      self.accBeta2.assign(tf.mul(self.accBeta2, self.beta2));
    });
    this.incrementIterations();
  }
}

/**
 * The optimizers `makeOptimizer` builds (train/optimizer.ts, whose builder table is typed by this
 * list). SGD uses Nesterov momentum. Kept apart from TensorFlow.js, like model/arch-names.ts.
 */
export const OPTIMIZERS = ['adam', 'sgd'] as const;
export type OptimizerName = (typeof OPTIMIZERS)[number];

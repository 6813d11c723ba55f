/**
 * The settings of `mnist-cnn finetune` (train/finetune.ts) and their defaults, apart from the
 * fine-tuning itself so that the command's help reads them without loading TensorFlow.js.
 */
export interface FinetuneSettings {
  /** Epochs over the mixed training set (one-cycle learning rate, as the base trained). */
  epochs: number;
  /** Peak learning rate. */
  lr: number;
  /** Share of the corrected digits held out to validate on (stratified by digit). */
  holdout: number;
  /** Share of the digits trained on that are corrections (the rest is MNIST rehearsal). */
  userShare: number;
  /** MNIST images rehearsed (from the base run's training split). */
  rehearsal: number;
  /** Non-digit pictures drawn per category to rehearse "not a digit" with (a base with that output). */
  nonDigitsPerCategory: number;
  /** Seed of the held-out share, the rehearsal images and the training's own streams (default: the base run's). */
  seed: number;
}

/**
 * The defaults, chosen on the MNIST validation split (the test set only measures) with 100
 * corrections from a development population of writers, not the one the bench measures on
 * (docs/finetune.md, "How the defaults were chosen", from `bench/finetune.ts --mix`): one epoch of
 * a one-cycle schedule peaking at 0.0005 (a higher rate forgot more of MNIST), and a tenth of
 * the digits trained on from the corrections: the share that forgot least of MNIST while the
 * writers' other digits were still read right at the issue's bar; the base's share of
 * non-digits rides along.
 */
export const FINETUNE_DEFAULTS: Omit<FinetuneSettings, 'seed'> = {
  epochs: 1,
  lr: 0.0005,
  holdout: 0.2,
  userShare: 0.1,
  rehearsal: 10_000,
  nonDigitsPerCategory: 100,
};

/**
 * The messages between the page's Train panel (train-panel.ts, on the page's main thread) and
 * its training worker (train-worker.ts): the page says what to train and when to pause, resume
 * or stop; the worker reports every step, every check, the views of the network as it learns,
 * and the model at the end.
 */
import type { FetchProgress } from '../../data/fetch.js';
import type { QuantisedView, LayerView } from '../../model/layer-views.js';
import type { RunMetadata } from '../../model/metadata.js';
import { presetConfig, type PresetName, type TrainConfig } from '../../train/config.js';
import type { Check, StepProgress } from '../../train/session.js';

/**
 * The networks the panel offers, each with its recipe, a preset of train/config.ts: the compact
 * net with `fast`'s (the time-to-99% recipe: one epoch, all 60,000 images, no validation split),
 * the default net with the defaults, LeNet-5 with its textbook `lenet5` preset.
 */
export const TRAIN_RECIPES = { compact: 'fast', default: 'default', lenet5: 'lenet5' } as const satisfies Record<
  string,
  PresetName
>;
export type TrainArch = keyof typeof TRAIN_RECIPES;

/** The config the panel trains: the network's recipe, with the epochs and threads asked for. */
export function recipeConfig(arch: TrainArch, overrides: Partial<TrainConfig> = {}): TrainConfig {
  const config = presetConfig(TRAIN_RECIPES[arch], overrides);
  if (config.arch !== arch) throw new Error(`the recipe of ${arch} trains ${config.arch}`);
  return config;
}

export type ToWorker =
  | {
      type: 'start';
      arch: TrainArch;
      epochs: number;
      /** Where the IDX files are (data/fetch.ts) and the wasm backend's .wasm files: URLs ending in /. */
      dataUrl: string;
      wasmUrl: string;
      /** Threads sharing each batch: the recipe's, or 1 where SharedArrayBuffer is unavailable (no cross-origin isolation). */
      threads: number;
      /** The page's own version (the package's), for the metadata. */
      version: string;
    }
  | { type: 'pause' }
  | { type: 'resume' }
  | { type: 'stop' };

/** One view of the network for the panel: the first convolution's filters, or a layer's maps for one digit. */
export interface TrainViews {
  step: number;
  /** The first convolution's kernel ([kh, kw, in, filters]) as it stands. */
  filters?: { values: Float32Array; shape: number[] };
  /** The convolutions' maps for one test digit, shrunk and quantised as the page's layer panel shows them. */
  maps: (Omit<LayerView, 'first'> & QuantisedView)[];
  /** That digit (28x28 bytes) and its label. */
  digit: { pixels: Uint8Array; label: number };
}

export type FromWorker =
  | { type: 'status'; text: string; data?: FetchProgress }
  | {
      type: 'started';
      threads: number;
      totalSteps: number;
      batchesPerEpoch: number;
      params: number;
      trainCount: number;
      valCount: number;
      batchSize: number;
    }
  | { type: 'step'; progress: StepProgress }
  | { type: 'check'; check: Check }
  | { type: 'views'; views: TrainViews }
  | {
      type: 'done';
      stopped: boolean;
      /** The model's files, as a run folder holds them: model.json, weights.bin, metadata.json (with weightsSha256). */
      modelJson: object;
      weights: ArrayBuffer;
      metadata: RunMetadata;
    }
  | { type: 'error'; message: string };

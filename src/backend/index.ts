import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';

import type { BackendName } from './names.js';

let trainingKernelsRegistered = false;

/**
 * Start a TensorFlow.js backend. `wasm` (default) gets our own training kernels, which the stock
 * backend lacks or runs slowly. `tensorflow` uses @tensorflow/tfjs-node when the user has it
 * installed, and falls back to wasm with a one-line notice when not.
 */
export async function initBackend(name: BackendName = 'wasm', options: { quiet?: boolean } = {}): Promise<BackendName> {
  if (name === 'tensorflow') {
    try {
      await import('@tensorflow/tfjs-node' as string);
      await tf.setBackend('tensorflow');
      await tf.ready();
      return 'tensorflow';
    } catch {
      if (!options.quiet) console.error('notice: @tensorflow/tfjs-node is not installed or does not load; using the wasm backend');
      name = 'wasm';
    }
  }
  if (name === 'wasm' && !trainingKernelsRegistered) {
    const { registerWasmTrainingKernels } = await import('./wasm-kernels.js');
    registerWasmTrainingKernels();
    trainingKernelsRegistered = true;
  }
  // PROD silences tfjs's console banners (e.g. the cpu backend's advice to install tfjs-node).
  tf.env().set('PROD', true);
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`the ${name} backend failed to start`);
  await tf.ready();
  return name;
}


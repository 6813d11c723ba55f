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
      // `as string`: an optional package, not installed where it cannot be built; TypeScript must not resolve it.
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
      await import('@tensorflow/tfjs-node' as string);
      await tf.setBackend('tensorflow');
      await tf.ready();
      return 'tensorflow';
    } catch {
      if (!options.quiet)
        console.error('notice: @tensorflow/tfjs-node is not installed or does not load; using the wasm backend');
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
  const listenersBefore = processListeners();
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`the ${name} backend failed to start`);
  await tf.ready();
  removeListenersAddedSince(listenersBefore);
  return name;
}

type Listener = (...args: unknown[]) => void;
type ProcessListeners = { uncaughtException: Listener[]; unhandledRejection: Listener[] };

function processListeners(): ProcessListeners {
  return {
    uncaughtException: process.listeners('uncaughtException') as Listener[],
    unhandledRejection: process.listeners('unhandledRejection') as Listener[],
  };
}

/**
 * The wasm backend's Emscripten module, when it starts in Node, adds process handlers for
 * uncaught exceptions and unhandled rejections that throw the error again. Throwing from such a
 * handler makes Node print the stack and exit with code 7, whatever the program would have done
 * with the error (the CLI prints one line for a user's mistake). Nothing in TensorFlow.js needs
 * them (it never calls Emscripten's exit), so they are taken off again.
 */
function removeListenersAddedSince(before: ProcessListeners): void {
  const now = processListeners();
  for (const listener of now.uncaughtException)
    if (!before.uncaughtException.includes(listener)) process.removeListener('uncaughtException', listener);
  for (const listener of now.unhandledRejection)
    if (!before.unhandledRejection.includes(listener)) process.removeListener('unhandledRejection', listener);
}

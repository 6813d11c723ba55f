import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { registerWasmTrainingKernels } from './wasm-kernels.js';

/**
 * The wasm backend in a browser's worker, as initBackend starts it in Node (index.ts): with our
 * training kernels, and one thread per backend. TensorFlow.js runs the wasm backend on one
 * thread in Node; in a cross-origin isolated page it would start XNNPACK threads of its own in
 * every worker, on top of ModelReplicas' workers (one per core already), so they are turned off
 * here too. The .wasm files are fetched from `wasmFolder` (a URL ending in /).
 */
export async function startWasmInBrowser(wasmFolder: string): Promise<void> {
  setWasmPaths(wasmFolder);
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  registerWasmTrainingKernels();
  // PROD silences tfjs's console banners, as in Node.
  tf.env().set('PROD', true);
  if (!(await tf.setBackend('wasm')))
    throw new Error(`the wasm backend failed to start (its .wasm files are fetched from ${wasmFolder})`);
  await tf.ready();
}

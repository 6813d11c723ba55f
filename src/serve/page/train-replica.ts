/**
 * A helper worker of the Train panel (bundled by scripts/bundle.mjs as train-replica.js): one
 * more wasm backend holding a replica of the model, computing the gradients of its rows of each
 * shared batch (backend/web-replica-thread.ts, replica-tasks.ts). train-worker.ts starts
 * threads - 1 of them; the .wasm files are beside this script.
 */
import { startWasmInBrowser } from '../../backend/web-start.js';
import { serveReplicaInWorker } from '../../backend/web-replica-thread.js';

serveReplicaInWorker(self, () => startWasmInBrowser(new URL('./', self.location.href).href));

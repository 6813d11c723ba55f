/**
 * ModelReplicas' workers in Node: worker threads running replica-worker.ts (the page's Train
 * panel has Web Workers instead, web-replica-thread.ts).
 */
import type { Worker } from 'node:worker_threads';
import { startModuleWorker } from '../util/worker.js';
import type { ReplicaInit, ReplicaReply, ReplicaTask, ReplicaThread } from './replicas.js';

export function startNodeReplicaThread(init: ReplicaInit): Promise<ReplicaThread> {
  return new Promise((resolve, reject) => {
    const worker = startModuleWorker(new URL('./replica-worker.js', import.meta.url), init);
    const fail = (err: Error) => reject(new Error(`a model worker thread failed to start: ${err.message}`));
    worker.once('error', fail);
    worker.once('message', (reply: ReplicaReply) => {
      worker.off('error', fail);
      if (reply.type === 'ready')
        resolve({ request: (task) => request(worker, task), terminate: async () => void (await worker.terminate()) });
      else
        reject(
          new Error(`a model worker thread failed to start: ${reply.type === 'error' ? reply.message : reply.type}`),
        );
    });
  });
}

function request(worker: Worker, task: ReplicaTask): Promise<Extract<ReplicaReply, { type: 'done' }>> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(new Error(`a model worker thread failed: ${err.message}`));
    worker.once('error', onError);
    worker.once('message', (reply: ReplicaReply) => {
      worker.off('error', onError);
      if (reply.type === 'done') resolve(reply);
      else reject(new Error(`a model worker thread failed: ${reply.type === 'error' ? reply.message : reply.type}`));
    });
    worker.postMessage(task);
  });
}

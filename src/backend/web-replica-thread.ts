/**
 * ModelReplicas' workers in a browser: Web Workers, each with its own wasm backend, sharing the
 * batch and the weights through SharedArrayBuffers as Node's worker threads do
 * (node-replica-thread.ts). The worker script, bundled with the page, starts its backend and
 * runs replica-tasks.ts (serveReplicaInWorker); SharedArrayBuffers need a cross-origin isolated
 * page (COOP and COEP headers).
 */
import { errorReply, replicaOf } from './replica-tasks.js';
import type { ReplicaInit, ReplicaReply, ReplicaTask, ReplicaThread, StartReplicaThread } from './replicas.js';

/** What a worker's global scope offers here (DedicatedWorkerGlobalScope, without the WebWorker lib). */
interface WorkerScope {
  onmessage: ((event: MessageEvent) => void) | null;
  postMessage(message: unknown): void;
}

/** ModelReplicas' startThread over Web Workers made by `newWorker` (each running serveReplicaInWorker). */
export function webReplicaThreads(newWorker: () => Worker): StartReplicaThread {
  return (init: ReplicaInit) =>
    new Promise<ReplicaThread>((resolve, reject) => {
      const worker = newWorker();
      let pending:
        { resolve: (reply: Extract<ReplicaReply, { type: 'done' }>) => void; reject: (err: Error) => void } | undefined;
      const fail = (message: string) => {
        const err = new Error(`a model worker failed: ${message}`);
        if (pending) pending.reject(err);
        else reject(err);
        pending = undefined;
      };
      worker.onerror = (event) => {
        event.preventDefault();
        fail(event.message || 'its script did not load');
      };
      worker.onmessage = (event: MessageEvent<ReplicaReply>) => {
        const reply = event.data;
        if (reply.type === 'ready') {
          resolve({
            request: (task: ReplicaTask) =>
              new Promise((done, failed) => {
                pending = { resolve: done, reject: failed };
                worker.postMessage(task);
              }),
            terminate: async () => worker.terminate(),
          });
        } else if (reply.type === 'done') {
          const waiting = pending;
          pending = undefined;
          waiting?.resolve(reply);
        } else {
          fail(reply.message);
        }
      };
      worker.postMessage(init);
    });
}

/**
 * The worker's side: its first message is the ReplicaInit; `startBackend` starts its backend
 * (backend/web-start.ts), then every further message is a task, answered with its reply.
 */
export function serveReplicaInWorker(scope: WorkerScope, startBackend: () => Promise<void>): void {
  let run: ((task: ReplicaTask) => ReplicaReply) | undefined;
  const start = async (init: ReplicaInit) => {
    try {
      await startBackend();
      run = await replicaOf(init);
      scope.postMessage({ type: 'ready' } satisfies ReplicaReply);
    } catch (err) {
      scope.postMessage(errorReply(err));
    }
  };
  scope.onmessage = (event: MessageEvent<ReplicaInit | ReplicaTask>) => {
    if (run) scope.postMessage(run(event.data as ReplicaTask));
    else void start(event.data as ReplicaInit);
  };
}

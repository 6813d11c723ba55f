/**
 * A Node worker thread holding a replica of a model (replicas.ts): its backend started, it runs
 * replica-tasks.ts on each task the main thread sends (node-replica-thread.ts starts it).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { initBackend } from './index.js';
import { replicaOf } from './replica-tasks.js';
import type { ReplicaInit, ReplicaReply, ReplicaTask } from './replicas.js';

const init = workerData as ReplicaInit;
await initBackend(init.backend, { quiet: true });
const run = await replicaOf(init);
parentPort!.on('message', (task: ReplicaTask) => parentPort!.postMessage(run(task)));
parentPort!.postMessage({ type: 'ready' } satisfies ReplicaReply);

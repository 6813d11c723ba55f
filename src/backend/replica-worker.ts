/**
 * A worker thread holding a replica of a model (see replicas.ts). Before each task it loads the
 * current weights from shared memory; then it either computes the gradients of its rows of the
 * shared batch (training) or predicts them (inference), writing the results to shared memory.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { logitsModel } from '../model/architectures.js';
import { partGradients, trainableVariables } from '../model/gradients.js';
import { initBackend } from './index.js';
import { predictRows, sizeOf, writeFlat, type ReplicaInit, type ReplicaReply, type ReplicaTask } from './replicas.js';

const init = workerData as ReplicaInit;
await initBackend(init.backend, { quiet: true });
const model = await tf.models.modelFromJSON({ modelTopology: init.topology } as tf.io.ModelJSON);
let net: tf.LayersModel | undefined;
let variables: tf.Variable[] | undefined;
const batch = { x: new Float32Array(init.x), y: new Int32Array(init.y) };
const weights = new Float32Array(init.weights);
const output = new Float32Array(init.output);
const dropoutLayers = model.layers.filter((layer) => layer.getClassName() === 'Dropout');

function loadWeights(): void {
  let offset = 0;
  const values = model.weights.map((w) => {
    const size = sizeOf(w.shape);
    const t = tf.tensor(weights.subarray(offset, offset + size), w.shape as number[]);
    offset += size;
    return t;
  });
  model.setWeights(values);
  tf.dispose(values);
}

function gradients(task: Extract<ReplicaTask, { type: 'gradients' }>): ReplicaReply {
  net ??= logitsModel(model);
  variables ??= trainableVariables(model);
  dropoutLayers.forEach((layer, i) => ((layer as unknown as { seed: number }).seed = task.dropoutSeeds[i]));
  const { grads, stats } = partGradients(net, variables, batch, task.from, task.to, task.labelSmoothing, task.share);
  writeFlat(grads, output);
  const [plainLossSum, correct, smoothedLoss] = stats.dataSync();
  tf.dispose([...grads, stats]);
  return { type: 'done', plainLossSum, correct, smoothedLoss };
}

function predict(task: Extract<ReplicaTask, { type: 'predict' }>): ReplicaReply {
  predictRows(model, batch.x, task.from, task.to, output);
  return { type: 'done', plainLossSum: 0, correct: 0, smoothedLoss: 0 };
}

parentPort!.on('message', (task: ReplicaTask) => {
  try {
    if (task.loadWeights) loadWeights();
    parentPort!.postMessage(task.type === 'gradients' ? gradients(task) : predict(task));
  } catch (err) {
    parentPort!.postMessage({ type: 'error', message: (err as Error).stack ?? String(err) } satisfies ReplicaReply);
  }
});
parentPort!.postMessage({ type: 'ready' } satisfies ReplicaReply);

/**
 * What a worker holding a replica of a model does (see replicas.ts), wherever it runs: a Node
 * worker thread (replica-worker.ts) or a browser's Web Worker (the page's Train panel). Before
 * each task it loads the current weights from shared memory; then it either computes the
 * gradients of its rows of the shared batch (training) or predicts them (inference), writing
 * the results to shared memory. The backend must be started first.
 */
import * as tf from '@tensorflow/tfjs';
import { logitsModel } from '../model/architectures.js';
import { partGradients, trainableVariables } from '../model/gradients.js';
import { predictRows, sizeOf, writeFlat, type ReplicaInit, type ReplicaReply, type ReplicaTask } from './replicas.js';

/** A replica of the model `init` describes, over its shared buffers: a function that runs one task and gives its reply. */
export async function replicaOf(init: ReplicaInit): Promise<(task: ReplicaTask) => ReplicaReply> {
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

  return (task) => {
    try {
      if (task.loadWeights) loadWeights();
      return task.type === 'gradients' ? gradients(task) : predict(task);
    } catch (err) {
      return errorReply(err);
    }
  };
}

/** The reply that says a task failed, from whatever was thrown. */
export function errorReply(err: unknown): ReplicaReply {
  return { type: 'error', message: (err as Error)?.stack ?? String(err) };
}

import * as tf from '@tensorflow/tfjs';
import { INPUT_SHAPE, PIXELS } from '../data/types.js';
import { logitsModel, outputCount } from '../model/architectures.js';
import { partGradients, trainableVariables } from '../model/gradients.js';
import type { BackendName } from './names.js';

/** What a replica worker is started with: the model's topology and the shared memory it works through. */
export interface ReplicaInit {
  topology: object;
  backend: BackendName;
  /** The batch (images and labels) that the main thread fills; every thread reads its rows. */
  x: SharedArrayBuffer;
  y: SharedArrayBuffer;
  /** All of the model's weights (model.weights order), published by the main thread. */
  weights: SharedArrayBuffer;
  /** This worker's results: gradients (trainable weights order) or probabilities (its rows). */
  output: SharedArrayBuffer;
}
export type ReplicaTask =
  | {
      type: 'gradients';
      loadWeights: boolean;
      from: number;
      to: number;
      share: number;
      labelSmoothing: number;
      dropoutSeeds: number[];
    }
  | { type: 'predict'; loadWeights: boolean; from: number; to: number };
export type ReplicaReply =
  | { type: 'ready' }
  | { type: 'done'; plainLossSum: number; correct: number; smoothedLoss: number }
  | { type: 'error'; message: string };

/**
 * One worker of ModelReplicas, wherever threads come from: Node's worker_threads
 * (node-replica-thread.ts) or a browser's Web Workers (web-replica-thread.ts). Either runs
 * replica-tasks.ts on its side; this module itself imports neither, so that it runs in both.
 */
export interface ReplicaThread {
  /** Send a task; its reply when done (rejects with the worker's error). */
  request(task: ReplicaTask): Promise<Extract<ReplicaReply, { type: 'done' }>>;
  terminate(): Promise<void>;
}
/** Start one worker holding a replica; resolves once it is ready for tasks. */
export type StartReplicaThread = (init: ReplicaInit) => Promise<ReplicaThread>;

export interface ReplicasOptions {
  threads: number;
  backend: BackendName;
  maxBatch: number;
  /** How a worker is started: needed when threads > 1. */
  startThread?: StartReplicaThread;
}

export interface StepResult {
  /** Mean plain cross-entropy of the batch (comparable with val_loss). */
  loss: number;
  /** The label-smoothed loss that drove the gradients (NaN when training diverged). */
  smoothedLoss: number;
  correct: number;
}

export const sizeOf = (shape: readonly (number | null)[]) => shape.reduce<number>((a, b) => a * (b ?? 1), 1);

/**
 * Copy the tensors' values one after another into `flat` (weights or gradients through shared
 * memory). On the wasm backend they are read in place in its memory: dataSync would copy each
 * into a new array first, megabytes per step for the garbage collector's threads to free.
 */
export function writeFlat(tensors: tf.Tensor[], flat: Float32Array): void {
  let offset = 0;
  const backend = tf.backend();
  // The wasm backend's method, typed here by shape: the page's main thread imports this module and
  // must not import the wasm backend, not even its types (.dependency-cruiser.cjs).
  const heap = backend as unknown as { typedArrayFromHeap(t: tf.Tensor): Float32Array };
  const inPlace =
    tf.getBackend() === 'wasm' ? (t: tf.Tensor) => heap.typedArrayFromHeap(t) : (t: tf.Tensor) => t.dataSync();
  for (const t of tensors) {
    const values = inPlace(t) as Float32Array;
    flat.set(values, offset);
    offset += values.length;
  }
}

/** The model's probabilities for rows [from, to) of a batch buffer, written to the same rows of `out`. */
export function predictRows(model: tf.LayersModel, x: Float32Array, from: number, to: number, out: Float32Array): void {
  // A batch smaller than the thread count leaves some threads no rows (a single image on two threads).
  if (to <= from) return;
  const probs = tf.tidy(
    () => model.predict(tf.tensor4d(x.subarray(from * PIXELS, to * PIXELS), [to - from, ...INPUT_SHAPE])) as tf.Tensor,
  );
  out.set(probs.dataSync(), from * (probs.shape[1] as number));
  probs.dispose();
}

/** Rows [from, to) of thread k of `threads` in a batch of n. */
export function batchPart(n: number, threads: number, k: number): { from: number; to: number } {
  return { from: Math.floor((k * n) / threads), to: Math.floor(((k + 1) * n) / threads) };
}

/**
 * A model on several threads: the main thread's model plus threads - 1 workers, each with its
 * own wasm backend (tfjs runs one backend on one core in Node) and a replica of the model. Work
 * on a batch is split by rows. Training is data-parallel: every thread computes the gradients
 * of its rows, the main thread sums them and applies the optimizer, and the workers load the
 * new weights from shared memory before their next task. The weights and optimizer state live
 * only on the main thread, so checkpoints and resume work as with one thread. Batch norm
 * normalises each part by its own statistics ("ghost batch norm"), so training results depend
 * on the thread count, which is therefore part of the training config.
 */
export class ModelReplicas {
  /** A ModelRunner (runner.ts) of the `tfjs` runtime. */
  readonly runtime = 'tfjs' as const;
  /** The batch to fill before each step or prediction (shared with the workers). */
  readonly batch: { x: Float32Array; y: Int32Array };
  private readonly weights: Float32Array;
  /** Each worker's output buffer (its probabilities, or its gradients). */
  private readonly workerOutputs: Float32Array[];
  /** Probabilities per image: 10, or 11 with the not-a-digit output. */
  readonly outputs: number;
  private net: tf.LayersModel | undefined;
  private variables: tf.Variable[] | undefined;
  private offsets: number[] | undefined;
  /** Whether the workers must reload the weights before their next task. */
  private stale = true;

  private constructor(
    readonly model: tf.LayersModel,
    readonly maxBatch: number,
    private readonly workers: ReplicaThread[],
    buffers: { x: Float32Array; y: Int32Array; weights: Float32Array; outputs: Float32Array[] },
  ) {
    this.batch = { x: buffers.x, y: buffers.y };
    this.weights = buffers.weights;
    this.workerOutputs = buffers.outputs;
    this.outputs = outputCount(model);
  }

  get threads(): number {
    return this.workers.length + 1;
  }

  /** Start threads - 1 workers (none for 1) holding replicas of `model`, for batches of up to maxBatch images. */
  static async start(model: tf.LayersModel, options: ReplicasOptions): Promise<ModelReplicas> {
    const { threads, maxBatch, startThread } = options;
    if (threads > 1 && !startThread)
      throw new Error(
        'ModelReplicas: more than one thread needs startThread (node-replica-thread.ts in Node, web-replica-thread.ts in a browser)',
      );
    const shared = (bytes: number) => (threads > 1 ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes));
    const x = new Float32Array(shared(maxBatch * PIXELS * 4));
    const y = new Int32Array(shared(maxBatch * 4));
    const weights = new Float32Array(shared(4 * model.weights.reduce((sum, w) => sum + sizeOf(w.shape), 0)));
    const outputSize = Math.max(
      maxBatch * outputCount(model),
      model.trainableWeights.reduce((sum, w) => sum + sizeOf(w.shape), 0),
    );
    const outputs = Array.from({ length: threads - 1 }, () => new Float32Array(new SharedArrayBuffer(4 * outputSize)));
    const topology = model.toJSON(null, false) as object;
    const workers = await Promise.all(
      outputs.map((output) =>
        startThread!({
          topology,
          backend: options.backend,
          x: x.buffer as SharedArrayBuffer,
          y: y.buffer as SharedArrayBuffer,
          weights: weights.buffer as SharedArrayBuffer,
          output: output.buffer,
        }),
      ),
    );
    return new ModelReplicas(model, maxBatch, workers, { x, y, weights, outputs });
  }

  /**
   * One optimizer step on the first n rows of the batch. `dropoutSeeds(k)` gives worker k's
   * dropout seeds (the main thread's are already set on the model by the caller).
   */
  async step(
    n: number,
    optimizer: tf.Optimizer,
    labelSmoothing: number,
    dropoutSeeds: (thread: number) => number[],
  ): Promise<StepResult> {
    this.net ??= logitsModel(this.model);
    this.variables ??= trainableVariables(this.model);
    const replies = this.dispatch(n, (from, to, k) => ({
      type: 'gradients',
      from,
      to,
      share: (to - from) / n,
      labelSmoothing,
      dropoutSeeds: dropoutSeeds(k),
    }));
    const own = batchPart(n, this.threads, 0);
    const { grads, stats } = partGradients(
      this.net,
      this.variables,
      this.batch,
      own.from,
      own.to,
      labelSmoothing,
      (own.to - own.from) / n,
    );
    const [plainLossSum, correct, smoothedLoss] = stats.dataSync();
    stats.dispose();
    const results = [{ plainLossSum, correct, smoothedLoss }, ...(await Promise.all(replies))];
    const variables = this.variables;
    tf.tidy(() => {
      const total = grads.map((g, v) =>
        this.workerOutputs.reduce((sum, output) => tf.add(sum, tf.tensor(this.gradientOf(output, v), g.shape)), g),
      );
      optimizer.applyGradients(Object.fromEntries(variables.map((variable, i) => [variable.name, total[i]])));
    });
    tf.dispose(grads);
    this.stale = true;
    const sum = (key: 'plainLossSum' | 'correct' | 'smoothedLoss') => results.reduce((s, r) => s + r[key], 0);
    return { loss: sum('plainLossSum') / n, smoothedLoss: sum('smoothedLoss'), correct: sum('correct') };
  }

  /** The model's probabilities for the first n rows of the batch, written to `out` (n x outputs). */
  async predict(n: number, out: Float32Array): Promise<void> {
    const replies = this.dispatch(n, (from, to) => ({ type: 'predict', from, to }));
    const own = batchPart(n, this.threads, 0);
    predictRows(this.model, this.batch.x, own.from, own.to, out);
    await Promise.all(replies);
    this.workerOutputs.forEach((output, i) => {
      const { from, to } = batchPart(n, this.threads, i + 1);
      out.set(output.subarray(from * this.outputs, to * this.outputs), from * this.outputs);
    });
  }

  /** The model's weights were changed from outside (e.g. loaded): workers reload them before their next task. */
  weightsChanged(): void {
    this.stale = true;
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  /** Send each worker its rows of the batch, publishing the weights first when they changed. */
  private dispatch<T extends ReplicaTask>(
    n: number,
    task: (from: number, to: number, thread: number) => Omit<T, 'loadWeights'>,
  ): Promise<Extract<ReplicaReply, { type: 'done' }>>[] {
    const loadWeights = this.stale && this.workers.length > 0;
    if (loadWeights) this.publishWeights();
    this.stale = false;
    return this.workers.map((worker, i) => {
      const { from, to } = batchPart(n, this.threads, i + 1);
      return worker.request({ ...task(from, to, i + 1), loadWeights } as ReplicaTask);
    });
  }

  /** Trainable variable v's gradient inside a worker's output. */
  private gradientOf(output: Float32Array, v: number): Float32Array {
    this.offsets ??= this.variables!.reduce<number[]>(
      (acc, variable) => [...acc, acc[acc.length - 1] + variable.size],
      [0],
    );
    return output.subarray(this.offsets[v], this.offsets[v + 1]);
  }

  private publishWeights(): void {
    writeFlat(
      this.model.weights.map((w) => w.read()),
      this.weights,
    );
  }
}

/** Run `work` with `model` on `threads` threads, closing the workers afterwards. */
export async function withReplicas<T>(
  model: tf.LayersModel,
  options: ReplicasOptions,
  work: (replicas: ModelReplicas) => Promise<T>,
): Promise<T> {
  const replicas = await ModelReplicas.start(model, options);
  try {
    return await work(replicas);
  } finally {
    await replicas.close();
  }
}

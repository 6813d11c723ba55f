import * as tf from '@tensorflow/tfjs';
import onnxProto from 'onnx-proto';
import type { RuntimeName } from '../backend/names.js';
import { loadOnnxRuntime, onnxSessionOptions } from '../backend/onnx-runner.js';
import { NUM_CLASSES } from '../data/types.js';
import { accuracy } from '../metrics/classification.js';

/**
 * Exact k-nearest neighbours by Euclidean (L2) distance, as matrix products: for a block of
 * queries q against reference rows r, |q - r|² = |q|² - 2 q·r + |r|², so one matrix product
 * q·rᵀ gives a block's distances to every reference row, and a top-k keeps the k smallest. No
 * approximation: every distance is computed (in float32).
 *
 * On ONNX Runtime the block runs as one graph, Gemm(q, r, |r|², alpha -2, transB) then TopK, so
 * only the k nearest leave the runtime; on TensorFlow.js (the fallback) as matMul then topk.
 * ONNX Runtime ran these products several times faster than TensorFlow.js's wasm matMul
 * (docs/baselines.md), so it is the default.
 */

/** The k nearest reference rows of each query, nearest first: n x k, row-major. */
export interface Neighbours {
  k: number;
  /** Index of the reference row. */
  indices: Int32Array;
  /** Its squared L2 distance to the query. */
  distances: Float32Array;
}

export interface NeighbourOptions {
  /** `onnx` (default; TensorFlow.js with a notice where it does not load) or `tfjs` (the backend must be started). */
  runtime?: RuntimeName;
  /** ONNX Runtime intra-op threads. */
  threads?: number;
  /** Queries per matrix product: a block's distances, block x reference rows floats, live at once. */
  block?: number;
}

const DEFAULT_BLOCK = 500;

/** Squared L2 norm of each of the n rows of `x` (dims values each). */
function rowNorms(x: Float32Array, dims: number): Float32Array {
  const n = x.length / dims;
  const norms = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (let j = i * dims; j < (i + 1) * dims; j++) sum += x[j] * x[j];
    norms[i] = sum;
  }
  return norms;
}

/**
 * The k nearest rows of `reference` to each row of `queries` (both row-major, `dims` values a
 * row). Ties in distance keep the lower reference index first on both runtimes.
 */
export async function nearestNeighbours(
  reference: Float32Array,
  queries: Float32Array,
  dims: number,
  k: number,
  options: NeighbourOptions = {},
): Promise<Neighbours> {
  const rows = reference.length / dims;
  if (!Number.isInteger(rows) || queries.length % dims !== 0) throw new RangeError(`rows of ${dims} values expected`);
  if (!Number.isInteger(k) || k < 1 || k > rows)
    throw new RangeError(`k must be a whole number from 1 to ${rows}, got ${k}`);
  const n = queries.length / dims;
  const block = options.block ?? DEFAULT_BLOCK;
  const result: Neighbours = { k, indices: new Int32Array(n * k), distances: new Float32Array(n * k) };
  const referenceNorms = rowNorms(reference, dims);
  const queryNorms = rowNorms(queries, dims);
  const search =
    (options.runtime ?? 'onnx') === 'onnx'
      ? await onnxSearch(reference, referenceNorms, dims, k, options.threads ?? 1)
      : undefined;
  const blockSearch = search ?? tfjsSearch(reference, referenceNorms, dims, k);
  try {
    for (let start = 0; start < n; start += block) {
      const count = Math.min(block, n - start);
      const found = await blockSearch.run(queries.subarray(start * dims, (start + count) * dims), count);
      for (let i = 0; i < count * k; i++) {
        result.indices[start * k + i] = found.indices[i];
        // |q|² - 2 q·r + |r|²; rounding can take an exact match a hair below zero.
        result.distances[start * k + i] = Math.max(0, found.partial[i] + queryNorms[start + Math.floor(i / k)]);
      }
    }
  } finally {
    await blockSearch.close();
  }
  return result;
}

/** One block's k smallest |r|² - 2 q·r and their reference indices. */
interface BlockSearch {
  run(queries: Float32Array, count: number): Promise<{ indices: ArrayLike<number>; partial: Float32Array }>;
  close(): Promise<void>;
}

function tfjsSearch(reference: Float32Array, norms: Float32Array, dims: number, k: number): BlockSearch {
  const r = tf.tensor2d(reference, [norms.length, dims]);
  const rNorms = tf.tensor1d(norms);
  return {
    async run(queries, count) {
      // topk takes the largest: of -(|r|² - 2 q·r).
      const { values, indices } = tf.tidy(() =>
        tf.topk(tf.sub(tf.mul(tf.matMul(tf.tensor2d(queries, [count, dims]), r, false, true), 2), rNorms), k),
      );
      const [negated, at] = await Promise.all([
        values.data() as Promise<Float32Array>,
        indices.data() as Promise<Int32Array>,
      ]);
      tf.dispose([values, indices]);
      return { indices: at, partial: negated.map((v) => -v) };
    },
    async close() {
      tf.dispose([r, rNorms]);
    },
  };
}

/**
 * The ONNX graph of a block search: reference rows and their norms as initializers, the block
 * of queries as input `queries` [n, dims], outputs `partial` and `indices` [n, k].
 */
function knnGraph(reference: Float32Array, norms: Float32Array, dims: number, k: number): Uint8Array {
  const { onnx } = onnxProto;
  const { FLOAT, INT64 } = onnx.TensorProto.DataType;
  const floats = (name: string, dimsOf: number[], values: Float32Array) =>
    onnx.TensorProto.create({
      name,
      dims: dimsOf,
      dataType: FLOAT,
      rawData: new Uint8Array(values.buffer, values.byteOffset, values.byteLength),
    });
  const value = (name: string, shape: (number | string)[], elemType: number) =>
    onnx.ValueInfoProto.create({
      name,
      type: {
        tensorType: {
          elemType,
          shape: { dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
        },
      },
    });
  const attribute = (name: string, settings: { f?: number; i?: number }) =>
    onnx.AttributeProto.create({
      name,
      ...(settings.f !== undefined
        ? { type: onnx.AttributeProto.AttributeType.FLOAT, f: settings.f }
        : { type: onnx.AttributeProto.AttributeType.INT, i: settings.i }),
    });
  const graph = onnx.GraphProto.create({
    name: 'knn',
    node: [
      onnx.NodeProto.create({
        opType: 'Gemm',
        input: ['queries', 'reference', 'norms'],
        output: ['scores'],
        attribute: [attribute('alpha', { f: -2 }), attribute('transB', { i: 1 })],
      }),
      onnx.NodeProto.create({
        opType: 'TopK',
        input: ['scores', 'k'],
        output: ['partial', 'indices'],
        attribute: [attribute('largest', { i: 0 }), attribute('sorted', { i: 1 })],
      }),
    ],
    initializer: [
      floats('reference', [norms.length, dims], reference),
      floats('norms', [norms.length], norms),
      onnx.TensorProto.create({ name: 'k', dims: [1], dataType: INT64, int64Data: [k] }),
    ],
    input: [value('queries', ['n', dims], FLOAT)],
    output: [value('partial', ['n', k], FLOAT), value('indices', ['n', k], INT64)],
  });
  return onnx.ModelProto.encode(
    onnx.ModelProto.create({
      irVersion: 7,
      opsetImport: [{ domain: '', version: 13 }],
      producerName: 'mnist-cnn baselines',
      graph,
    }),
  ).finish();
}

/** The block search on ONNX Runtime, or undefined (after a one-line notice) where it does not load. */
async function onnxSearch(
  reference: Float32Array,
  norms: Float32Array,
  dims: number,
  k: number,
  threads: number,
): Promise<BlockSearch | undefined> {
  let ort: Awaited<ReturnType<typeof loadOnnxRuntime>>;
  let session: Awaited<ReturnType<typeof ort.InferenceSession.create>>;
  try {
    ort = await loadOnnxRuntime();
    session = await ort.InferenceSession.create(knnGraph(reference, norms, dims, k), onnxSessionOptions(threads));
  } catch (err) {
    console.error(
      `notice: ONNX Runtime does not load here (${(err as Error).message.split('\n')[0]}); k-NN runs on TensorFlow.js`,
    );
    return undefined;
  }
  return {
    async run(queries, count) {
      const out = await session.run({ queries: new ort.Tensor('float32', queries, [count, dims]) });
      return {
        indices: Array.from(out.indices.data as BigInt64Array, Number),
        partial: out.partial.data as Float32Array,
      };
    },
    close: () => session.release(),
  };
}

/**
 * Majority vote of each query's k nearest (the first k of `neighbours`, which may hold more): the
 * class with most votes; a tie goes to the tied class whose member is nearest.
 */
export function knnVote(neighbours: Neighbours, labels: ArrayLike<number>, k: number): Uint8Array {
  if (k < 1 || k > neighbours.k) throw new RangeError(`k must be from 1 to ${neighbours.k}, got ${k}`);
  const n = neighbours.indices.length / neighbours.k;
  const predicted = new Uint8Array(n);
  const votes = new Int32Array(NUM_CLASSES);
  for (let q = 0; q < n; q++) {
    votes.fill(0);
    const row = q * neighbours.k;
    for (let j = 0; j < k; j++) votes[labels[neighbours.indices[row + j]]]++;
    const most = Math.max(...votes);
    for (let j = 0; j < k; j++) {
      const label = labels[neighbours.indices[row + j]];
      if (votes[label] === most) {
        predicted[q] = label;
        break;
      }
    }
  }
  return predicted;
}

/** The k of 1..neighbours.k with the lowest error on a held-out set (the smallest such k on a tie). */
export function chooseK(
  neighbours: Neighbours,
  referenceLabels: ArrayLike<number>,
  heldOutLabels: ArrayLike<number>,
): { k: number; errors: number[] } {
  const errors = Array.from(
    { length: neighbours.k },
    (_, i) => 1 - accuracy(heldOutLabels, knnVote(neighbours, referenceLabels, i + 1)),
  );
  return { k: errors.indexOf(Math.min(...errors)) + 1, errors };
}

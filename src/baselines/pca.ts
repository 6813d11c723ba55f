import * as tf from '@tensorflow/tfjs';
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';

/**
 * Principal component analysis of image rows: the covariance matrix as one matrix product on
 * TensorFlow.js (784 x n times n x 784), its eigenvectors by ml-matrix (a symmetric 784 x 784
 * eigendecomposition). ml-pca's own fit builds the covariance in JavaScript from arrays of rows,
 * far too slow on the 55,000 training images (docs/baselines.md).
 */
export interface Pca {
  /** Values per input row. */
  dims: number;
  /** Components kept, most variance first. */
  components: number;
  /** The training rows' mean, subtracted before projecting. */
  mean: Float32Array;
  /** dims x components, row-major: column c is component c. */
  basis: Float32Array;
  /** Share of the training rows' variance along each kept component. */
  explained: number[];
}

/** The first `components` principal components of the n rows of `x` (dims values each). The backend must be started. */
export async function fitPca(x: Float32Array, dims: number, components: number): Promise<Pca> {
  const n = x.length / dims;
  if (!Number.isInteger(n) || n < 2) throw new RangeError(`PCA needs at least 2 rows of ${dims} values`);
  if (!Number.isInteger(components) || components < 1 || components > dims)
    throw new RangeError(`components must be from 1 to ${dims}, got ${components}`);
  const [meanTensor, covariance] = tf.tidy((): [tf.Tensor, tf.Tensor] => {
    const rows = tf.tensor2d(x, [n, dims]);
    const mean = tf.mean(rows, 0);
    const centred = tf.sub(rows, mean);
    return [mean, tf.div(tf.matMul(centred, centred, true, false), n - 1)];
  });
  const mean = (await meanTensor.data()) as Float32Array;
  const cov = (await covariance.data()) as Float32Array;
  tf.dispose([meanTensor, covariance]);
  const square = Matrix.from1DArray(dims, dims, Array.from(cov));
  const eig = new EigenvalueDecomposition(square, { assumeSymmetric: true });
  const values = eig.realEigenvalues;
  const vectors = eig.eigenvectorMatrix;
  const order = values
    .map((value, i) => ({ value, i }))
    .sort((a, b) => b.value - a.value)
    .slice(0, components);
  const total = values.reduce((sum, v) => sum + Math.max(v, 0), 0);
  const basis = new Float32Array(dims * components);
  order.forEach(({ i }, c) => {
    for (let d = 0; d < dims; d++) basis[d * components + c] = vectors.get(d, i);
  });
  return { dims, components, mean, basis, explained: order.map(({ value }) => Math.max(value, 0) / total) };
}

/** The rows of `x` in the first `components` (default all kept) principal components: n x components. */
export function projectPca(pca: Pca, x: Float32Array, components = pca.components): Float32Array {
  if (components > pca.components)
    throw new RangeError(`the PCA kept ${pca.components} components, asked for ${components}`);
  const n = x.length / pca.dims;
  const projected = tf.tidy(() => {
    const basis = tf.slice(tf.tensor2d(pca.basis, [pca.dims, pca.components]), [0, 0], [pca.dims, components]);
    return tf.matMul(tf.sub(tf.tensor2d(x, [n, pca.dims]), tf.tensor1d(pca.mean)), basis);
  });
  const values = projected.dataSync() as Float32Array;
  projected.dispose();
  return values;
}

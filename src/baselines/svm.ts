import type { SVM as SvmClass } from 'libsvm-js';
import { asRows } from './rows.js';

/**
 * A support vector machine with a Gaussian (RBF) kernel: libsvm (C-SVC, one-against-one over the
 * ten classes) compiled to WebAssembly by the ml.js project (libsvm-js). It reads PCA features
 * (pca.ts), not the 784 pixels: measured, as few errors at a fraction of the time
 * (docs/baselines.md).
 */

export interface SvmParams {
  gamma: number;
  cost: number;
}

let svmClass: Promise<typeof SvmClass> | undefined;

/**
 * libsvm-js, loaded once. Its Emscripten loader tries `fetch` on the .wasm file's path first and
 * prints a warning when that fails, as it always does in Node; without `fetch` it reads the file
 * at once. So `fetch` is hidden while the module starts.
 */
function loadSvm(): Promise<typeof SvmClass> {
  svmClass ??= (async () => {
    const fetch = globalThis.fetch;
    Reflect.deleteProperty(globalThis, 'fetch');
    try {
      return await (
        await import('libsvm-js')
      ).default;
    } finally {
      globalThis.fetch = fetch;
    }
  })();
  return svmClass;
}

export interface TrainedSvm {
  predict(features: Float32Array): number[];
  supportVectors: number;
  /** The model as libsvm saves it (text). */
  sizeBytes: number;
  free(): void;
}

/** Train an RBF C-SVC on rows of `dims` features. */
export async function trainSvm(
  features: Float32Array,
  dims: number,
  labels: ArrayLike<number>,
  params: SvmParams,
): Promise<TrainedSvm> {
  const SVM = await loadSvm();
  const svm = new SVM({
    type: SVM.SVM_TYPES.C_SVC,
    kernel: SVM.KERNEL_TYPES.RBF,
    gamma: params.gamma,
    cost: params.cost,
    cacheSize: 500,
    quiet: true,
  });
  svm.train(asRows(features, dims), Array.from(labels));
  return {
    predict: (x) => svm.predict(asRows(x, dims)),
    supportVectors: svm.getSVIndices().length,
    sizeBytes: Buffer.byteLength(svm.serializeModel()),
    free: () => svm.free(),
  };
}

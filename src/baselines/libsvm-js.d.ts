/** The part of libsvm-js (libsvm compiled to WebAssembly) that svm.ts uses. */
declare module 'libsvm-js' {
  interface SvmOptions {
    type?: number;
    kernel?: number;
    degree?: number;
    gamma?: number;
    coef0?: number;
    cost?: number;
    cacheSize?: number;
    tolerance?: number;
    shrinking?: boolean;
    quiet?: boolean;
  }
  export class SVM {
    constructor(options: SvmOptions);
    static readonly SVM_TYPES: { C_SVC: number };
    static readonly KERNEL_TYPES: { RBF: number; POLYNOMIAL: number };
    train(samples: number[][], labels: number[]): void;
    predict(samples: number[][]): number[];
    getSVIndices(): number[];
    serializeModel(): string;
    free(): void;
  }
  const loaded: Promise<typeof SVM>;
  export default loaded;
}

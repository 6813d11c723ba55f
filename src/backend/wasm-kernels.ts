import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { BATCH_NORM_TRAINING_GRAD } from '../model/batch-norm-layer.js';
import { adamUpdate } from './adam.js';
import { batchNormOverChannels, batchNormTrainingGrad } from './batch-norm.js';
import { conv2DBackpropFilter, conv2DBackpropInput } from './conv-grads.js';
import { batchMatMulTransposing, fusedMatMul } from './matmul.js';
import { maxPoolGrad } from './pool-grads.js';
import { meanOverLeadingAxes, sumOverLeadingAxes } from './reductions.js';
import { castSharingData, identitySharingData } from './shared-copies.js';
import { tileByBlocks } from './tile.js';
import { conv2DForward } from './winograd.js';
import { ADAM_UPDATE_KERNEL } from './names.js';
import { captureStockKernel } from './wasm-calls.js';

/**
 * The training kernels the stock wasm backend lacks (Conv2DBackpropFilter) or runs slowly
 * (Conv2DBackpropInput, MaxPoolGrad, Sum and Mean over the batch axes, Tile, transposed matMuls
 * of dense gradients, the batch-norm forward, Identity and same-dtype Cast, which copied where
 * sharing does; stock against ours: `npm run bench:kernels`), 3x3 convolutions, forward and
 * backward, through Winograd (winograd.ts), and two kernels of our own that replace many ops
 * each: a training batch norm's whole gradient (model/batch-norm-layer.ts) and an Adam step
 * (train/adam.ts). They are registered as kernels, not gradients, because tfjs-layers' fused
 * conv2d calls the conv kernels directly from its own gradient; each falls back to the stock
 * kernel outside the cases it speeds up.
 */
const OUR_KERNELS: Array<{ name: string; kernelFunc: unknown; replacesStock: boolean }> = [
  { name: 'Conv2D', kernelFunc: conv2DForward('Conv2D'), replacesStock: true },
  { name: 'FusedConv2D', kernelFunc: conv2DForward('FusedConv2D'), replacesStock: true },
  { name: 'Conv2DBackpropFilter', kernelFunc: conv2DBackpropFilter, replacesStock: false },
  { name: 'Conv2DBackpropInput', kernelFunc: conv2DBackpropInput, replacesStock: true },
  { name: 'MaxPoolGrad', kernelFunc: maxPoolGrad, replacesStock: true },
  { name: 'Sum', kernelFunc: sumOverLeadingAxes, replacesStock: true },
  { name: 'Mean', kernelFunc: meanOverLeadingAxes, replacesStock: true },
  { name: 'Tile', kernelFunc: tileByBlocks, replacesStock: true },
  { name: 'BatchMatMul', kernelFunc: batchMatMulTransposing, replacesStock: true },
  { name: '_FusedMatMul', kernelFunc: fusedMatMul, replacesStock: true },
  { name: 'FusedBatchNorm', kernelFunc: batchNormOverChannels, replacesStock: true },
  { name: BATCH_NORM_TRAINING_GRAD, kernelFunc: batchNormTrainingGrad, replacesStock: false },
  { name: ADAM_UPDATE_KERNEL, kernelFunc: adamUpdate, replacesStock: false },
  { name: 'Identity', kernelFunc: identitySharingData, replacesStock: true },
  { name: 'Cast', kernelFunc: castSharingData, replacesStock: true },
];

export const WASM_TRAINING_KERNELS = OUR_KERNELS.map((k) => k.name);

let registered = false;

/** Idempotent. Call before the wasm backend starts (initBackend does), or at any time after. */
export function registerWasmTrainingKernels(): void {
  if (registered) return;
  for (const { name, kernelFunc, replacesStock } of OUR_KERNELS) {
    // The stock kernel's setup (its binding into the wasm module) must still run when the
    // backend starts: our kernel falls back to it for rare shapes.
    const stock = replacesStock ? captureStockKernel(name) : undefined;
    if (tf.getKernel(name, 'wasm')) tf.unregisterKernel(name, 'wasm');
    tf.registerKernel({
      kernelName: name,
      backendName: 'wasm',
      kernelFunc: kernelFunc as tf.KernelFunc,
      setupFunc: stock?.setupFunc,
    });
  }
  registered = true;
}

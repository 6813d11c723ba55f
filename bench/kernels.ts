/**
 * Micro-benchmark of the wasm training kernels, at the shapes of a small MNIST CNN at batch 128
 * (and of the compact architecture at batch 64, what `--preset fast` trains).
 * Run: node --import tsx bench/kernels.ts [--reps N] [--cpu-time] [--loop-only]   → JSON on stdout, with the CPU model.
 * --loop-only: only the training loop on two threads (trainingOnThreads), without the kernel table.
 * --cpu-time times by the process's CPU time instead of the wall clock: on a machine busy with
 * other jobs, wall-clock minima of the same kernel varied between columns many times more than
 * CPU-time minima.
 *
 * Columns: "stock" is the kernel tfjs-backend-wasm 4.22 ships (it has no Conv2DBackpropFilter);
 * "baseline" is the shared note's formulation (filter gradient as a transposed convolution,
 * input gradient as a convolution of padded dy, max-pool gradient as upsample + equal +
 * multiply, stock Sum, Mean, Tile, BatchMatMul, Identity, Cast, Conv2D, FusedConv2D and
 * _FusedMatMul: XNNPACK); "ours" is what
 * registerWasmTrainingKernels installs. The training step is timed with the baseline kernels
 * registered, then with ours, in the same process.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { initBackend } from '../src/backend/index.js';
import { filterGradByConvolution, inputGradByConvolution } from '../src/backend/conv-grads.js';
import { ADAM_UPDATE_KERNEL } from '../src/backend/names.js';
import { WASM_TRAINING_KERNELS } from '../src/backend/wasm-kernels.js';
import { callStock, release, type Shape4, type TensorInfo } from '../src/backend/wasm-calls.js';
import { buildModel, logitsModel } from '../src/model/architectures.js';
import { BATCH_NORM_TRAINING_GRAD, batchNormGradients, batchNormalization } from '../src/model/batch-norm-layer.js';
import { FusedAdam } from '../src/train/adam.js';
import { createRng } from '../src/util/rng.js';
import { loadMnist } from '../src/data/index.js';
import { resolveConfig } from '../src/train/config-file.js';
import { train } from '../src/train/trainer.js';
import { cpuPerStep, threadCpuMs } from './thread-cpu.js';

const BATCH = 128;
const reps = Number(process.argv[process.argv.indexOf('--reps') + 1]) || 10;
const cpuTime = process.argv.includes('--cpu-time');
const loopOnly = process.argv.includes('--loop-only');

/** Milliseconds on the chosen clock. */
function now(): number {
  if (!cpuTime) return performance.now();
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/**
 * Fastest of `reps` runs after one warm-up, in ms; `run` must finish its work synchronously.
 * The minimum, not the median: on a machine shared with other jobs it is the figure least
 * disturbed by them.
 */
function timeMs(run: () => void): number {
  run();
  let fastest = Infinity;
  for (let i = 0; i < reps; i++) {
    const start = now();
    run();
    fastest = Math.min(fastest, now() - start);
  }
  return Number(fastest.toFixed(2));
}

/** Baseline and ours alternately, so both see the same load from other jobs; fastest of each. */
function timeBaselineAndOurs(run: () => void): { baseline: number; ours: number } {
  const baselineRun = () => withBaselineKernels(run);
  baselineRun();
  run();
  let baseline = Infinity;
  let ours = Infinity;
  for (let i = 0; i < reps; i++) {
    let start = now();
    baselineRun();
    baseline = Math.min(baseline, now() - start);
    start = now();
    run();
    ours = Math.min(ours, now() - start);
  }
  return { baseline: Number(baseline.toFixed(2)), ours: Number(ours.toFixed(2)) };
}

const rng = createRng(1);
function randomTensor(shape: Shape4): tf.Tensor4D {
  const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < values.length; i++) values[i] = rng.normal();
  return tf.tensor(values, shape) as tf.Tensor4D;
}

function randomMatrix(rows: number, columns: number): tf.Tensor2D {
  return randomTensor([1, 1, rows, columns]).reshape([rows, columns]);
}

type KernelArgs = { inputs: Record<string, TensorInfo>; backend: BackendWasm; attrs: Record<string, unknown> };

/** The note's filter gradient: always the transposed convolution. */
function baselineFilterGrad({ inputs, backend, attrs }: KernelArgs): TensorInfo {
  const { x, dy } = inputs;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as Shape4,
    attrs.filterShape as Shape4,
    attrs.strides as number,
    1,
    attrs.pad as 'same',
  );
  return filterGradByConvolution(backend, x, dy, info);
}

/** The note's input gradient: always a convolution of the padded (and dilated) dy. */
function baselineInputGrad({ inputs, backend, attrs }: KernelArgs): TensorInfo {
  const { dy, filter } = inputs;
  const info = tf.backend_util.computeConv2DInfo(
    attrs.inputShape as Shape4,
    filter.shape as Shape4,
    attrs.strides as number,
    1,
    attrs.pad as 'same',
  );
  return inputGradByConvolution(backend, dy, filter, info);
}

/** The note's max-pool gradient (2x2, stride 2): upsample y and dy, mask where x equals y, multiply. */
function baselineMaxPoolGrad({ inputs, backend }: KernelArgs): TensorInfo {
  const { dy, input, output } = inputs;
  const size = [input.shape[1], input.shape[2]];
  const resize = (images: TensorInfo) =>
    callStock(backend, 'ResizeNearestNeighbor', { images }, { size, alignCorners: false, halfPixelCenters: false });
  const upY = resize(output);
  const upDy = resize(dy);
  const mask = callStock(backend, 'Equal', { a: input, b: upY });
  const maskF = callStock(backend, 'Cast', { x: mask }, { dtype: 'float32' });
  const dx = callStock(backend, 'Multiply', { a: maskF, b: upDy });
  release(backend, upY, upDy, mask, maskF);
  return dx;
}

function stockKernel(name: string) {
  return (args: KernelArgs) => callStock(args.backend, name, args.inputs, args.attrs);
}

const BASELINE: Record<string, (args: KernelArgs) => TensorInfo> = {
  Conv2DBackpropFilter: baselineFilterGrad,
  Conv2DBackpropInput: baselineInputGrad,
  MaxPoolGrad: baselineMaxPoolGrad,
  Sum: stockKernel('Sum'),
  Mean: stockKernel('Mean'),
  Tile: stockKernel('Tile'),
  BatchMatMul: stockKernel('BatchMatMul'),
  Identity: stockKernel('Identity'),
  Cast: stockKernel('Cast'),
  Conv2D: stockKernel('Conv2D'),
  FusedConv2D: stockKernel('FusedConv2D'),
  _FusedMatMul: stockKernel('_FusedMatMul'),
};

/**
 * Our kernels that each replace many tfjs ops: in the baseline they are absent, and their
 * callers (model/batch-norm-layer.ts, train/adam.ts) compose tfjs ops as without them.
 */
const FUSED_KERNELS = [BATCH_NORM_TRAINING_GRAD, ADAM_UPDATE_KERNEL];

/** Runs `measure` with the baseline kernels registered in place of ours, then puts ours back. */
function withBaselineKernels<T>(measure: () => T): T {
  const ours = WASM_TRAINING_KERNELS.filter((name) => !FUSED_KERNELS.includes(name)).map((name) =>
    tf.getKernel(name, 'wasm'),
  );
  const fused = FUSED_KERNELS.map((name) => tf.getKernel(name, 'wasm'));
  const swap = (configs: tf.KernelConfig[]) => {
    for (const config of configs) {
      tf.unregisterKernel(config.kernelName, 'wasm');
      tf.registerKernel(config);
    }
  };
  const baseline = ours.map((config) => ({
    ...config,
    kernelFunc: (BASELINE[config.kernelName] ?? config.kernelFunc) as tf.KernelFunc,
  }));
  swap(baseline);
  for (const config of fused) tf.unregisterKernel(config.kernelName, 'wasm');
  try {
    return measure();
  } finally {
    swap(ours);
    for (const config of fused) tf.registerKernel(config);
  }
}

/**
 * A training batch norm's gradient and an Adam step on the dense layer's kernel, each one call
 * of our kernel against the tfjs ops it replaces (the baseline).
 */
function fusedTimings() {
  const x = randomTensor([BATCH, 14, 14, 64]);
  const dy = randomTensor([BATCH, 14, 14, 64]);
  const { mean, variance } = tf.moments(x, [0, 1, 2]);
  const gamma = tf.randomNormal([64]);
  const weights = tf.variable(randomMatrix(3136, 128));
  const gradient = randomMatrix(3136, 128);
  const adam = new FusedAdam(0.001, 0.9, 0.999);
  const result = {
    'batch-norm training gradient [128,14,14,64] (baseline: tfjs ops)': timeBaselineAndOurs(() =>
      tf.dispose(batchNormGradients(dy, [x, mean, variance, gamma], 1e-3)),
    ),
    'Adam step [3136,128] (baseline: tfjs ops)': timeBaselineAndOurs(() =>
      adam.applyGradients({ [weights.name]: gradient } as unknown as Parameters<FusedAdam['applyGradients']>[0]),
    ),
  };
  adam.dispose();
  tf.dispose([x, dy, mean, variance, gamma, weights, gradient]);
  return result;
}

function runKernel(name: string, inputs: tf.NamedTensorMap, attrs: object): void {
  (tf.engine().runKernel(name, inputs, attrs as tf.NamedAttrMap) as tf.Tensor).dispose();
}

function runStock(name: string, inputs: tf.NamedTensorMap, attrs: object): void {
  const backend = tf.backend() as BackendWasm;
  release(backend, callStock(backend, name, inputs, attrs));
}

/**
 * stock / baseline / ours for one kernel call; null where that variant does not exist. With
 * `flops` (multiply-adds x 2 of the direct computation), also ours in GFLOP/s: Winograd
 * convolutions do fewer multiplications than they are credited with, so they can pass the
 * ceiling of direct arithmetic (CEILING_GFLOPS).
 */
function compare(name: string, inputs: tf.NamedTensorMap, attrs: object, hasStock: boolean, flops?: number) {
  const { baseline, ours } = timeBaselineAndOurs(() => runKernel(name, inputs, attrs));
  return {
    stock: hasStock ? timeMs(() => runStock(name, inputs, attrs)) : null,
    baseline: name in BASELINE ? baseline : null,
    ours,
    ...(flops ? { oursGflops: +(flops / ours / 1e6).toFixed(1) } : {}),
  };
}

/**
 * The dense forward product with weights that are a new tensor at every call, as after every
 * optimizer step (tfjs' stock kernel, XNNPACK, packs new weights; ours reads them as they are).
 */
function freshWeights(x: tf.Tensor2D, w: tf.Tensor2D, flops: number) {
  const values = w.dataSync();
  // The kernel takes rank-3 operands (tf.fused.matMul reshapes to them; the stock kernel reads
  // the first axis as the batch).
  const a = x.reshape([1, ...x.shape]);
  const run = () => {
    const weights = tf.tensor(values, [1, ...w.shape]);
    runKernel('_FusedMatMul', { a, b: weights }, { transposeA: false, transposeB: false, activation: 'linear' });
    weights.dispose();
  };
  const { baseline, ours } = timeBaselineAndOurs(run);
  a.dispose();
  return { baseline, ours, oursGflops: +(flops / ours / 1e6).toFixed(1) };
}

/**
 * One core's ceiling for float32 multiply-adds in 128-bit wasm SIMD, without fused
 * multiply-add (wasm SIMD has none): 4 lanes x (one multiply + one add) x 2 pipes of each per
 * cycle on AMD Zen 4, i.e. 16 flops per cycle at the clock the OS reports.
 */
const CLOCK_MHZ = cpus()[0]?.speed || cpuInfoMHz();
const CEILING_GFLOPS = +((16 * CLOCK_MHZ) / 1000).toFixed(1);

/** The clock /proc/cpuinfo reports (virtual machines often leave os.cpus()' speed at 0); 0 if none. */
function cpuInfoMHz(): number {
  try {
    return Math.round(Number(/cpu MHz\s*:\s*([\d.]+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 0));
  } catch {
    return 0;
  }
}

function kernelTimings() {
  const x1 = randomTensor([BATCH, 28, 28, 1]);
  const w1 = randomTensor([3, 3, 1, 32]);
  const dy1 = randomTensor([BATCH, 28, 28, 32]);
  const x2 = randomTensor([BATCH, 14, 14, 32]);
  const w2 = randomTensor([3, 3, 32, 64]);
  const dy2 = randomTensor([BATCH, 14, 14, 64]);
  const conv = { strides: 1, pad: 'same', dataFormat: 'NHWC', dilations: 1 };
  const pool = { filterSize: 2, strides: 2, pad: 'valid' };
  const poolCase = (input: tf.Tensor4D) => {
    const output = tf.maxPool(input, 2, 2, 'valid');
    return { dy: randomTensor(output.shape), input, output };
  };
  const dense = { x: randomMatrix(BATCH, 3136), w: randomMatrix(3136, 128), dy: randomMatrix(BATCH, 128) };
  // The compact architecture (16 and 32 filters) at batch 64.
  const small = {
    x1: randomTensor([64, 28, 28, 1]),
    dy1: randomTensor([64, 28, 28, 16]),
    x2: randomTensor([64, 14, 14, 16]),
    w2: randomTensor([3, 3, 16, 32]),
    dy2: randomTensor([64, 14, 14, 32]),
  };
  const scale = randomTensor([1, 1, 1, 32]);
  const flops1 = 2 * BATCH * 28 * 28 * 9 * 32;
  const flops2 = 2 * BATCH * 14 * 14 * 9 * 32 * 64;
  const flopsSmall = 2 * 64 * 14 * 14 * 9 * 16 * 32;
  const flopsDense = 2 * BATCH * 3136 * 128;
  const pool1 = poolCase(dy1);
  const pool2 = poolCase(dy2);
  const pool3 = poolCase(small.dy1);
  const result = {
    'Conv2D 1→32 28x28 (forward, stock)': compare('Conv2D', { x: x1, filter: w1 }, conv, true, flops1),
    'FusedConv2D 32→64 14x14 (forward)': compare(
      'FusedConv2D',
      { x: x2, filter: w2 },
      { ...conv, activation: 'linear' },
      true,
      flops2,
    ),
    'Conv2DBackpropFilter 1→32 28x28': compare(
      'Conv2DBackpropFilter',
      { x: x1, dy: dy1 },
      { ...conv, filterShape: w1.shape },
      false,
      flops1,
    ),
    'Conv2DBackpropFilter 32→64 14x14': compare(
      'Conv2DBackpropFilter',
      { x: x2, dy: dy2 },
      { ...conv, filterShape: w2.shape },
      false,
      flops2,
    ),
    'Conv2DBackpropInput 32→64 14x14': compare(
      'Conv2DBackpropInput',
      { dy: dy2, filter: w2 },
      { ...conv, inputShape: x2.shape },
      true,
      flops2,
    ),
    'Conv2DBackpropInput 1→32 28x28 (fused first layer)': compare(
      'Conv2DBackpropInput',
      { dy: dy1, filter: w1 },
      { ...conv, inputShape: x1.shape },
      true,
    ),
    'Conv2DBackpropFilter 1→16 28x28, batch 64': compare(
      'Conv2DBackpropFilter',
      { x: small.x1, dy: small.dy1 },
      { ...conv, filterShape: [3, 3, 1, 16] },
      false,
    ),
    'Conv2DBackpropFilter 16→32 14x14, batch 64': compare(
      'Conv2DBackpropFilter',
      { x: small.x2, dy: small.dy2 },
      { ...conv, filterShape: small.w2.shape },
      false,
      flopsSmall,
    ),
    'Conv2DBackpropInput 16→32 14x14, batch 64': compare(
      'Conv2DBackpropInput',
      { dy: small.dy2, filter: small.w2 },
      { ...conv, inputShape: small.x2.shape },
      true,
      flopsSmall,
    ),
    'MaxPoolGrad 28x28x32 → 14x14': compare('MaxPoolGrad', pool1, pool, true),
    'MaxPoolGrad 14x14x64 → 7x7': compare('MaxPoolGrad', pool2, pool, true),
    'MaxPoolGrad 28x28x16 → 14x14, batch 64': compare('MaxPoolGrad', pool3, pool, true),
    '_FusedMatMul x·W [128,3136]×[3136,128] (dense forward; new weights each call, as in training: includes their 1.6 MB copy)':
      freshWeights(dense.x, dense.w, flopsDense),
    'BatchMatMul xᵀ·dy [128,3136]ᵀ×[128,128] (dense gradient)': compare(
      'BatchMatMul',
      { a: dense.x, b: dense.dy },
      { transposeA: true, transposeB: false },
      true,
      flopsDense,
    ),
    'BatchMatMul dy·Wᵀ [128,128]×[3136,128]ᵀ (dense gradient)': compare(
      'BatchMatMul',
      { a: dense.dy, b: dense.w },
      { transposeA: false, transposeB: true },
      true,
      flopsDense,
    ),
    'Tile [1,1,1,32] → [128,28,28,32] (batch-norm gradient)': compare(
      'Tile',
      { x: scale },
      { reps: [BATCH, 28, 28, 1] },
      true,
    ),
    'Sum [128,28,28,32] over axes 0-2 (bias gradient)': compare(
      'Sum',
      { x: dy1 },
      { axis: [0, 1, 2], keepDims: false },
      true,
    ),
    'Sum [128,14,14,64] over axes 0-2 (bias gradient)': compare(
      'Sum',
      { x: dy2 },
      { axis: [0, 1, 2], keepDims: false },
      true,
    ),
  };
  tf.dispose([
    x1,
    w1,
    dy1,
    x2,
    w2,
    dy2,
    pool1.dy,
    pool1.output,
    pool2.dy,
    pool2.output,
    pool3.dy,
    pool3.output,
    dense.x,
    dense.w,
    dense.dy,
    scale,
    ...Object.values(small),
  ]);
  return result;
}

/** conv(f1) 3x3 same relu → pool → conv(f2) → pool → dense 10. */
function plainNet(filters1: number, filters2: number): tf.Sequential {
  return tf.sequential({
    layers: [
      tf.layers.conv2d({
        inputShape: [28, 28, 1],
        filters: filters1,
        kernelSize: 3,
        padding: 'same',
        activation: 'relu',
      }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: filters2, kernelSize: 3, padding: 'same', activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 10 }),
    ],
  });
}

/** conv-BN-ReLU blocks throughout: every conv runs fused and linear, so even the first layer's input gradient is computed. */
function batchNormNet(): tf.Sequential {
  const block = (filters: number, first: boolean): tf.layers.Layer[] => [
    tf.layers.conv2d({
      ...(first ? { inputShape: [28, 28, 1] } : {}),
      filters,
      kernelSize: 3,
      padding: 'same',
      useBias: false,
    }),
    batchNormalization({ momentum: 0.9 }),
    tf.layers.activation({ activation: 'relu' }),
  ];
  return tf.sequential({
    layers: [
      ...block(32, true),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      ...block(64, false),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 128, useBias: false }),
      batchNormalization({ momentum: 0.9 }),
      tf.layers.activation({ activation: 'relu' }),
      tf.layers.dense({ units: 10 }),
    ],
  });
}

/** One Adam training step, with the baseline kernels and with ours. */
function trainingStepMs(model: tf.LayersModel, batch = BATCH) {
  const optimizer = new FusedAdam(1e-3, 0.9, 0.999);
  const x = randomTensor([batch, 28, 28, 1]);
  const labels = tf.oneHot(
    tf.tensor1d(
      Array.from({ length: batch }, (_, i) => i % 10),
      'int32',
    ),
    10,
  );
  const loss = () =>
    tf.losses.softmaxCrossEntropy(labels, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar;
  const step = () => tf.tidy(() => void optimizer.minimize(loss, true)!.dataSync());
  const { baseline, ours } = timeBaselineAndOurs(step);
  const result = {
    forward: timeMs(() => tf.tidy(() => void (model.predict(x) as tf.Tensor).dataSync())),
    stepBaseline: baseline,
    stepOurs: ours,
  };
  tf.dispose([x, labels]);
  model.dispose();
  optimizer.dispose();
  return result;
}

/** A project architecture as training runs it: logits out, the softmax left to the loss. */
function projectNet(arch: 'default' | 'compact'): tf.LayersModel {
  return logitsModel(buildModel(arch, 1));
}

/**
 * The real training loop (\`train\`, the default config: default net, batch 128, 2 threads) for
 * 40 steps after 5 of warm-up, timed by each thread's own CPU time: on a machine shared with
 * other jobs, the wall clock of a two-thread step measures the other jobs, while the busier
 * thread's CPU per step is what a step would take on two free cores (the threads wait for
 * each other only at the step's ends). Images/s are estimated from that.
 */
async function trainingOnThreads() {
  const warmup = 5;
  const measured = 40;
  const config = resolveConfig({ flags: { epochs: 1 } });
  const dir = mkdtempSync(join(tmpdir(), 'mnist-cnn-bench-kernels-'));
  let before = new Map<string, number>();
  let wallStart = 0;
  let result = {};
  try {
    await train({
      config,
      outDir: dir,
      data: await loadMnist(),
      updateLatest: false,
      afterStep({ step }) {
        if (step === warmup) {
          before = threadCpuMs();
          wallStart = performance.now();
        }
        if (step === warmup + measured) {
          result = {
            threads: config.threads,
            batch: config.batchSize,
            ...cpuPerStep(before, measured, config.threads, config.batchSize),
            wallMsPerStep: +((performance.now() - wallStart) / measured).toFixed(1),
          };
          return 'stop';
        }
      },
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return result;
}

await initBackend('wasm');
const loadAtStart = loadavg()[0];
const report = {
  cpu: cpus()[0]?.model ?? 'unknown',
  backend: tf.getBackend(),
  batch: BATCH,
  reps,
  unit: cpuTime ? 'ms of process CPU time, fastest of reps' : 'ms (wall clock), fastest of reps',
  clockMHz: CLOCK_MHZ,
  ceilingGflopsPerCore: CEILING_GFLOPS,
  trainingLoop: await trainingOnThreads(),
  ...(loopOnly
    ? {}
    : {
        kernels: kernelTimings(),
        fused: fusedTimings(),
        trainingStep: {
          'conv32-pool-conv64-pool-dense10, Adam': trainingStepMs(plainNet(32, 64)),
          'conv16-pool-conv32-pool-dense10, Adam': trainingStepMs(plainNet(16, 32)),
          'conv32bn-pool-conv64bn-pool-dense128bn-dense10, Adam': trainingStepMs(batchNormNet()),
          'default architecture (conv32-pool-conv64bn-pool-dense128bn-dense10), Adam, batch 128': trainingStepMs(
            projectNet('default'),
          ),
          'compact architecture (conv16-pool-conv32bn-pool-dense128bn-dense10), Adam, batch 64': trainingStepMs(
            projectNet('compact'),
            64,
          ),
        },
      }),
  // Other jobs on the machine inflate every figure: compare columns within one run.
  loadAverage1m: { atStart: loadAtStart, atEnd: loadavg()[0] },
};
console.log(JSON.stringify(report, null, 2));

/**
 * Where a training step's time goes, kernel by kernel: one Adam step of a project architecture on
 * one wasm thread (the 11-output net `npm start` trains), each kernel call timed by the process's
 * CPU time and summed over a few steps, by kernel and by kernel + input shapes.
 * Run: node --import tsx bench/step-profile.ts [--arch default|compact] [--batch 128] [--rows 45] [--json]
 * CPU time, not the wall clock: the machine is shared, and the other jobs' time is not ours.
 * The per-call timing wrapper itself costs a little, so the profiled step is a bit slower than the
 * unprofiled one printed beside it.
 */
import { cpus, loadavg } from 'node:os';
import { Command } from 'commander';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend/index.js';
import { ARCHITECTURES } from '../src/model/arch-names.js';
import { buildModel, logitsModel, outputCount } from '../src/model/architectures.js';

const program = new Command('step-profile')
  .option('--arch <name>', `architecture: ${ARCHITECTURES.join(', ')}`, 'default')
  .option('--batch <n>', 'batch size', '128')
  .option('--rows <n>', 'kernel + shape rows printed', '45')
  .option('--json', 'print one JSON object')
  .parse();
const opts = program.opts<{ arch: string; batch: string; rows: string; json?: boolean }>();
const arch = opts.arch;
const batch = Number(opts.batch);
const reps = 8;

const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

await initBackend('wasm');

/** Every wasm kernel re-registered behind a wrapper that adds its CPU time to `totals` while `profiling`. */
const totals = new Map<string, { ms: number; calls: number }>();
let profiling = false;
for (const config of tf.getKernelsForBackend('wasm')) {
  const inner = config.kernelFunc;
  tf.unregisterKernel(config.kernelName, 'wasm');
  tf.registerKernel({
    ...config,
    kernelFunc: (args) => {
      if (!profiling) return inner(args);
      const start = cpuMs();
      const result = inner(args);
      const ms = cpuMs() - start;
      const shapes = Object.values(args.inputs)
        .map((input) => (input ? `[${input.shape}]` : ''))
        .join(' ');
      const key = `${config.kernelName} ${shapes}`;
      const entry = totals.get(key) ?? { ms: 0, calls: 0 };
      entry.ms += ms;
      entry.calls++;
      totals.set(key, entry);
      return result;
    },
  });
}

// buildModel refuses an unknown architecture, naming the choices.
const model = logitsModel(buildModel(arch, 1, { notADigit: true }));
const classes = outputCount(model);
const optimizer = tf.train.adam(1e-3);
const x = tf.randomNormal([batch, 28, 28, 1]);
const labels = tf.oneHot(
  tf.tensor1d(
    Array.from({ length: batch }, (_, i) => i % classes),
    'int32',
  ),
  classes,
);
const step = () =>
  tf.tidy(
    () =>
      void optimizer
        .minimize(
          () => tf.losses.softmaxCrossEntropy(labels, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar,
          true,
        )!
        .dataSync(),
  );

for (let i = 0; i < 3; i++) step();
let fastest = Infinity;
for (let i = 0; i < reps; i++) {
  const start = cpuMs();
  step();
  fastest = Math.min(fastest, cpuMs() - start);
}
profiling = true;
const start = cpuMs();
for (let i = 0; i < reps; i++) step();
const profiledMean = (cpuMs() - start) / reps;
profiling = false;

const rows = [...totals]
  .map(([key, v]) => ({ kernel: key, ms: +(v.ms / reps).toFixed(2), calls: v.calls / reps }))
  .sort((a, b) => b.ms - a.ms);
const byKernel = new Map<string, number>();
for (const row of rows) {
  const name = row.kernel.split(' ')[0];
  byKernel.set(name, (byKernel.get(name) ?? 0) + row.ms);
}
const report = {
  cpu: cpus()[0]?.model ?? 'unknown',
  loadAverage: loadavg().map((l) => +l.toFixed(2)),
  arch,
  batch,
  unit: 'ms of process CPU time per step, one wasm thread',
  stepFastest: +fastest.toFixed(1),
  stepProfiledMean: +profiledMean.toFixed(1),
  inKernels: +rows.reduce((sum, row) => sum + row.ms, 0).toFixed(1),
  byKernel: Object.fromEntries([...byKernel].sort((a, b) => b[1] - a[1]).map(([name, ms]) => [name, +ms.toFixed(2)])),
  byKernelAndShapes: rows.slice(0, Number(opts.rows)),
};
if (opts.json) {
  console.log(JSON.stringify(report, null, 2));
} else {
  console.log(`${report.cpu}, load ${report.loadAverage.join(' ')}; ${arch} net, batch ${batch}`);
  console.log(
    `step: fastest ${report.stepFastest} ms CPU; profiled mean ${report.stepProfiledMean}; in kernels ${report.inKernels}`,
  );
  console.log(
    Object.entries(report.byKernel)
      .map(([name, ms]) => `${name} ${ms.toFixed(1)}`)
      .join(' | '),
  );
  for (const row of report.byKernelAndShapes)
    console.log(row.ms.toFixed(2).padStart(7), String(row.calls).padStart(3), row.kernel);
}

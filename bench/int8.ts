/**
 * `node --import tsx bench/int8.ts RUN_DIR [--rounds N] [--weight-bits 7|8] [--json]` (or `--from FIGURES.json`: the
 * Markdown of figures saved with --json): what a run's int8 ONNX copy
 * (`export --int8`, model/onnx-quantize.ts) gives against its float ONNX export, both on ONNX
 * Runtime's CPU provider in this one process: the figures behind docs/int8.md and the decision
 * whether to ship it (issue 23: test accuracy within 0.05 points, the not-a-digit targets kept:
 * every one the float model meets, the int8 model meets too).
 *
 *   quality   on the 10,000 MNIST test images, each file run as the Predictor runs a file
 *             `export` wrote (Predictor.fromOnnxFile: the run's preprocessing, the temperature
 *             folded into the file, the run's answer rule): accuracy, answers equal to the float
 *             file's, ECE / NLL / Brier; and the open-set figures of bench/non-digits.ts (the
 *             generated non-digits' test split refused per category, MNIST test digits refused,
 *             digit pictures read);
 *   speed     bench/onnx.ts's interleaved rounds on the files as `export` writes them, 1 and 2
 *             threads, batches of 256, and one image on one thread; also the int8 file in
 *             QOperator form (QLinearConv, QGemm: the graph ONNX Runtime's QDQ fusion makes of
 *             it, saved by ONNX Runtime itself), to see whether that form would run faster;
 *   size      of each file.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { InferenceSession } from 'onnxruntime-node';
import { initBackend } from '../src/backend/index.js';
import { loadMnist } from '../src/data/load.js';
import { scalePixels } from '../src/data/model-input.js';
import { exportRunToOnnx, runTemperature } from '../src/export/onnx.js';
import { compareProbabilities, INT8_MAX_ACCURACY_DROP } from '../src/export/verify.js';
import { calibrationScores, type CalibrationScores } from '../src/metrics/calibration.js';
import { accuracyAndLoss, digitColumns } from '../src/metrics/classification.js';
import { loadRun } from '../src/model/run.js';
import { Predictor } from '../src/predict/predictor.js';
import { nonDigitFigures, type NonDigitFigures } from './non-digits.js';
import { machine, onnxRow } from './onnx.js';
import { loadAverage } from './runtimes.js';

const CASES = ['onnx', 'onnx-int8'] as const;
type Case = (typeof CASES)[number];

interface Quality {
  accuracy: number;
  /** Test images whose answer (argmax of all outputs) is the float model's. */
  sameAnswerAsFloat: number;
  calibration: CalibrationScores;
  openSet: NonDigitFigures;
}

/** The int8 file in QOperator form: ONNX Runtime's own fusion of its QDQ graph (level `extended`: no machine-specific layouts), as it saves it. */
async function qoperatorForm(bytes: Uint8Array, dir: string): Promise<Uint8Array> {
  const path = join(dir, 'qoperator.onnx');
  const session = await InferenceSession.create(bytes, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'extended',
    optimizedModelFilePath: path,
  });
  await session.release();
  return new Uint8Array(await readFile(path));
}

async function int8Figures(
  runDir: string,
  options: { rounds?: number; weightBits?: 7 | 8; log?: (m: string) => void } = {},
) {
  const log = options.log ?? (() => {});
  const rounds = options.rounds ?? 5;
  const loadBefore = loadAverage();
  const started = performance.now();
  await initBackend('wasm');
  const data = await loadMnist();
  const run = await loadRun(runDir);
  const work = await mkdtemp(join(tmpdir(), 'mnist-cnn-bench-int8-'));
  try {
    log('exporting the float and int8 files');
    const files = {
      onnx: new Uint8Array(await readFile((await exportRunToOnnx(run.dir, join(work, 'model.onnx'))).path)),
      'onnx-int8': new Uint8Array(
        await readFile(
          (await exportRunToOnnx(run.dir, join(work, 'model.int8.onnx'), { int8: { weightBits: options.weightBits } }))
            .path,
        ),
      ),
    } satisfies Record<Case, Uint8Array>;

    const probabilities = {} as Record<Case, Float32Array>;
    const quality = {} as Record<Case, Omit<Quality, 'sameAnswerAsFloat'>>;
    for (const name of CASES) {
      log(`${name}: test accuracy and calibration`);
      // The file itself, as the Predictor runs an exported file (Predictor.fromOnnxFile: its temperature folded in).
      const predictor = await Predictor.fromOnnxFile(run.dir, files[name], { threads: 2 });
      if (!predictor) throw new Error('ONNX Runtime does not load here');
      let accuracy: number;
      let calibration: CalibrationScores;
      try {
        probabilities[name] = await predictor.probabilities(data.test);
        accuracy = accuracyAndLoss(probabilities[name], data.test.labels, predictor.outputs).accuracy;
        calibration = calibrationScores(digitColumns(probabilities[name], predictor.outputs), data.test.labels);
      } finally {
        await predictor.close();
      }
      log(`${name}: not-a-digit figures`);
      quality[name] = { accuracy, calibration, openSet: await nonDigitFigures(run.dir, { onnxFile: files[name] }) };
    }
    const outputs = probabilities.onnx.length / data.test.count;
    const sameAnswer = (name: Case) =>
      compareProbabilities(probabilities[name], probabilities.onnx, outputs).argmaxAgree / data.test.count;
    const images = scalePixels(data.test.images, undefined, run.metadata.preprocessing);

    log('speed');
    const speed = await onnxRow(
      run.metadata.arch,
      run.model,
      [
        { name: 'onnx', bytes: files.onnx },
        { name: 'onnx-int8', bytes: files['onnx-int8'] },
        { name: 'onnx-int8-qoperator', bytes: await qoperatorForm(files['onnx-int8'], work) },
      ],
      images,
      data.test.count,
      rounds,
      log,
    );
    const accuracyDrop = quality.onnx.accuracy - quality['onnx-int8'].accuracy;
    // Kept: every not-a-digit target the float model meets, the int8 model meets too.
    const floatTargets = quality.onnx.openSet.targets;
    const targetsKept = Object.entries(quality['onnx-int8'].openSet.targets).every(
      ([k, t]) => t.met || !floatTargets[k as keyof typeof floatTargets].met,
    );
    return {
      int8: {
        run: relative(process.cwd(), run.dir) || run.dir,
        arch: run.metadata.arch,
        weightBits: options.weightBits ?? 7,
        temperature: runTemperature(run.metadata) ?? 1,
        machine: { ...machine(), loadBefore, loadAfter: loadAverage() },
        seconds: +((performance.now() - started) / 1000).toFixed(1),
        quality: Object.fromEntries(
          CASES.map((name) => [name, { ...quality[name], sameAnswerAsFloat: sameAnswer(name) }]),
        ) as Record<Case, Quality>,
        speed,
        decision: {
          accuracyDrop,
          accuracyBar: INT8_MAX_ACCURACY_DROP,
          accuracyWithinBar: accuracyDrop <= INT8_MAX_ACCURACY_DROP,
          openSetTargetsKept: targetsKept,
          ship: accuracyDrop <= INT8_MAX_ACCURACY_DROP && targetsKept,
        },
      },
    };
  } finally {
    run.model.dispose();
    await rm(work, { recursive: true, force: true });
  }
}

type Int8Figures = Awaited<ReturnType<typeof int8Figures>>['int8'];

/** The figures as Markdown (docs/int8.md). */
function int8Lines(f: Int8Figures): string[] {
  const pct = (x: number, digits = 2) => `${(100 * x).toFixed(digits)}%`;
  const n = (v: number) => v.toLocaleString('en-US');
  const q = f.quality;
  const o = (name: Case) => q[name].openSet;
  type Rates = Record<string, { median: number; perCpuSecond: number }>;
  const s = f.speed as {
    tfjsWasm: number;
    threads1: Rates;
    threads2: Rates;
    oneImageMs: Record<string, number>;
    bytes: Record<string, number>;
  };
  const both = (get: (name: Case) => string) => `${get('onnx')} | ${get('onnx-int8')}`;
  const categories = Object.keys(o('onnx').nonDigits.byCategory);
  const speedRow = (label: string, get: (name: string) => string) =>
    `| ${label} | ${get('onnx')} | ${get('onnx-int8')} | ${get('onnx-int8-qoperator')} |`;
  return [
    `Run ${f.run} (${f.arch}, temperature ${f.temperature.toFixed(4)}), int8 weights of ${f.weightBits ?? 8} bits; ${f.machine.cpu}, ${f.machine.cores} cores, Node ${f.machine.node}, ${f.machine.date}; load average ${f.machine.loadBefore.join(' ')} before, ${f.machine.loadAfter.join(' ')} after.`,
    '',
    '| on the MNIST test set (10,000) | float ONNX | int8 ONNX |',
    '|---|---|---|',
    `| test accuracy | ${both((c) => pct(q[c].accuracy))} |`,
    `| answers equal to the float model's | ${both((c) => pct(q[c].sameAnswerAsFloat))} |`,
    `| ECE / NLL / Brier (after the temperature) | ${both((c) => `${pct(q[c].calibration.ece)} / ${q[c].calibration.nll.toFixed(4)} / ${q[c].calibration.brier.toFixed(4)}`)} |`,
    `| MNIST test digits refused as not a digit | ${both((c) => pct(o(c).mnistTest.refused))} |`,
    `| accuracy on the digits answered | ${both((c) => pct(o(c).mnistTest.accuracyAnswered))} |`,
    `| generated non-digits refused (test split, ${o('onnx').nonDigits.n}) | ${both((c) => pct(o(c).nonDigits.refused, 1))} |`,
    ...categories.map((k) => `| &nbsp; ${k} | ${both((c) => pct(o(c).nonDigits.byCategory[k].refused, 0))} |`),
    ...Object.keys(o('onnx').digitKinds).map(
      (k) => `| digit pictures read right: ${k} | ${both((c) => pct(o(c).digitKinds[k].correct, 0))} |`,
    ),
    `| not-a-digit targets (issue 13) | ${both((c) =>
      Object.values(o(c).targets).every((t) => t.met)
        ? 'all met'
        : `not met: ${Object.entries(o(c).targets)
            .filter(([, t]) => !t.met)
            .map(([k]) => k)
            .join(', ')}`,
    )} |`,
    `| file size | ${both((c) => `${n(s.bytes[c])} bytes`)} |`,
    '',
    `Speed (ONNX Runtime CPU, the files as \`export\` writes them; medians of interleaved rounds; TensorFlow.js wasm for scale: ${n(s.tfjsWasm)} images/s):`,
    '',
    '| | float ONNX | int8 ONNX (QDQ, as shipped) | int8, QOperator form |',
    '|---|---|---|---|',
    speedRow('images/s, 1 thread, batches of 256', (c) => n(s.threads1[c].median)),
    speedRow('images/s, 2 threads', (c) => n(s.threads2[c].median)),
    speedRow('images per CPU-second, 1 thread', (c) => n(s.threads1[c].perCpuSecond)),
    speedRow('one image, 1 thread, median', (c) => `${s.oneImageMs[c]} ms`),
    '',
    `Accuracy lost: ${(100 * f.decision.accuracyDrop).toFixed(2)} points (bar: ${(100 * f.decision.accuracyBar).toFixed(2)}); the float model's not-a-digit targets ${f.decision.openSetTargetsKept ? 'all kept' : 'NOT all kept'}: ${f.decision.ship ? 'ship it' : 'do not ship it'}.`,
  ];
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      rounds: { type: 'string', default: '5' },
      'weight-bits': { type: 'string' },
      json: { type: 'boolean' },
      from: { type: 'string' },
    },
  });
  if (values.from) {
    // The Markdown of figures saved before with --json (docs/int8.md's tables from docs/int8.json).
    console.log(int8Lines((JSON.parse(await readFile(values.from, 'utf8')) as { int8: Int8Figures }).int8).join('\n'));
  } else if (positionals.length !== 1) {
    console.error(
      'usage: node --import tsx bench/int8.ts RUN_DIR [--rounds N] [--weight-bits 7|8] [--json] | --from FIGURES.json',
    );
    process.exit(2);
  } else {
    const figures = await int8Figures(positionals[0], {
      rounds: Number(values.rounds),
      weightBits: values['weight-bits'] ? (Number(values['weight-bits']) as 7 | 8) : undefined,
      log: (m) => process.stderr.write(`bench: ${m}\n`),
    });
    console.log(values.json ? JSON.stringify(figures, null, 2) : int8Lines(figures.int8).join('\n'));
  }
}

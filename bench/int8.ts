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
import { nonDigitFigures } from './non-digits.js';
import { INT8_CASES, int8Lines, type Int8Case, type Int8Figures, type Int8Quality } from './int8-table.js';
import { machine, onnxRow } from './onnx.js';
import { loadAverage } from './runtimes.js';

const CASES = INT8_CASES;
type Case = Int8Case;
type Quality = Int8Quality;

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
): Promise<{ int8: Int8Figures }> {
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
    // The Markdown of figures saved before with --json (docs/int8.md's tables from bench/results/int8.json; `npm run docs` writes them there).
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

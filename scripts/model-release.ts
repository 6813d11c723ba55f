/**
 * `npm run model:release`: train the model the package ships (models/default/), once, by a fixed
 * recipe: `npm start`'s (the `start` preset) at a fixed seed, evaluated on the test set, exported
 * to ONNX (checked against TensorFlow.js on the 10,000 test images), its trust figures measured,
 * and every file's SHA-256 recorded in release.json (test/model/shipped.test.ts checks them).
 *
 *   npm run model:release [-- --seed 1] [--from RUN] [--out models/default] [--quiet]
 *
 * `--from RUN` takes a run already trained by that recipe (its config must be the recipe's) instead
 * of training again. The folder is built beside the target and renamed into place.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { basename, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { isDeepStrictEqual } from 'node:util';
import { trustFigures } from '../bench/trust.js';
import { initBackend } from '../src/backend/index.js';
import { evaluateRun } from '../src/evaluate/evaluate.js';
import { exportRunToOnnx, runTemperature } from '../src/export/onnx.js';
import {
  assertInt8Agrees,
  assertOnnxAgrees,
  describeInt8Check,
  verifyInt8OnTestImages,
  verifyOnTestImages,
  type Int8Check,
} from '../src/export/verify.js';
import { RELEASE_FILE, type ReleaseRecord } from '../src/model/release.js';
import { readMetadata, resolveRunDir, RUN_FILES, writeMetadata } from '../src/model/run.js';
import { DEFAULT_SHIPPED_MODEL, shippedModelDir } from '../src/model/shipped.js';
import { humanReporter, quietReporter } from '../src/train/reporter.js';
import { resolveConfig } from '../src/train/config-file.js';
import { train } from '../src/train/trainer.js';
import { writeJsonAtomic } from '../src/util/fs.js';

const RECIPE = 'start' as const;
/** What the package keeps of the run: the model, what made it, and what measured it (no plots or report). */
const KEPT = [
  'model.json',
  'weights.bin',
  RUN_FILES.config,
  RUN_FILES.history,
  RUN_FILES.valIndices,
  RUN_FILES.metrics,
] as const;

const { values: args } = parseArgs({
  options: {
    seed: { type: 'string', default: '1' },
    from: { type: 'string' },
    out: { type: 'string', default: shippedModelDir(DEFAULT_SHIPPED_MODEL) },
    quiet: { type: 'boolean', default: false },
  },
});
const seed = Number(args.seed);
if (!Number.isInteger(seed)) throw new Error(`--seed ${args.seed} is not a whole number`);
const say = (line: string) => {
  if (!args.quiet) console.log(line);
};
const sha256 = async (path: string) =>
  createHash('sha256')
    .update(await readFile(path))
    .digest('hex');
const git = (...argv: string[]) => {
  try {
    return execFileSync('git', argv, { encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
};

const config = resolveConfig({ preset: RECIPE, flags: { seed } });
const started = Date.now();

// 1. The run: trained here, or taken from --from after checking it was made by this recipe.
let runDir: string;
if (args.from) {
  runDir = resolveRunDir(args.from);
  const meta = await readMetadata(runDir);
  if (!isDeepStrictEqual(meta.config, config))
    throw new Error(
      `${args.from} was not trained by the \`${RECIPE}\` recipe at seed ${seed}: its config.json differs`,
    );
  say(`using ${runDir}, trained by the \`${RECIPE}\` recipe at seed ${seed}`);
} else {
  runDir = join(tmpdir(), `mnist-cnn-release-${process.pid}`);
  say(`training the \`${RECIPE}\` recipe at seed ${seed} into ${runDir}`);
  const result = await train({
    config,
    outDir: runDir,
    updateLatest: false,
    reporter: args.quiet ? quietReporter : humanReporter(),
  });
  result.model.dispose();
  if (result.interrupted)
    throw new Error(
      'training was interrupted: nothing released (resume it with `mnist-cnn train --resume`, then pass it with --from)',
    );
}

// 2. Its test figures (metrics.json, metadata.json's `test`), through the one inference path.
const { metrics } = await evaluateRun(runDir, { threads: 2, plots: false });
say(`test accuracy ${(metrics.accuracy * 100).toFixed(2)}% on ${metrics.n} images`);

// 3. The folder the package ships, built beside the target.
const out = resolve(args.out);
const staging = `${out}.tmp-${process.pid}`;
await rm(staging, { recursive: true, force: true });
await mkdir(staging, { recursive: true });
try {
  for (const file of KEPT) await copyFile(join(runDir, file), join(staging, file));
  const meta = await readMetadata(runDir);
  // No paths of the machine that made it: the data is named by its checksums (and found again where it is installed).
  const packaged = (path: string) => path.replace(/^.*node_modules[\\/]/, '');
  const data = {
    ...meta.data,
    source: { ...meta.data.source, location: packaged(meta.data.source.location) },
    files: meta.data.files.map((f) => ({ ...f, path: packaged(f.path) })),
  };
  await writeMetadata(staging, { ...meta, data });

  await initBackend('wasm', { quiet: true });
  const exported = await exportRunToOnnx(staging, join(staging, RUN_FILES.onnx), {
    check: async (bytes, run) => {
      const check = await verifyOnTestImages(bytes, run, { temperature: runTemperature(run.metadata) });
      assertOnnxAgrees(check);
      say(
        `ONNX export checked on ${check.count} test images: max probability difference ${check.maxAbsDiff.toExponential(1)}`,
      );
    },
  });

  // Its int8 copy, for ONNX Runtime's quick start: shipped only when it passes export's check.
  let int8: { check: Int8Check; bytes: number } | undefined;
  try {
    let check: Int8Check | undefined;
    const written = await exportRunToOnnx(staging, join(staging, RUN_FILES.onnxInt8), {
      int8: true,
      check: async (bytes, run) => {
        check = await verifyInt8OnTestImages(bytes, run, { temperature: runTemperature(run.metadata) });
        say(`int8 copy ${describeInt8Check(check)}`);
        assertInt8Agrees(check);
      },
    });
    int8 = { check: check!, bytes: written.bytes };
  } catch (err) {
    say(`int8 copy not shipped: ${(err as Error).message}`);
  }

  // 4. What the package says of itself: the trust figures, measured on the folder it ships.
  const { trust } = await trustFigures(staging, { threads: 2 });
  const files: Record<string, string> = {};
  for (const file of (await readdir(staging)).sort()) files[file] = await sha256(join(staging, file));
  const release: ReleaseRecord = {
    format: 'mnist-cnn-release',
    model: basename(out),
    recipe: RECIPE,
    seed,
    command: `npm run model:release -- --seed ${seed}`,
    commit: git('rev-parse', 'HEAD') ?? null,
    madeAt: new Date().toISOString(),
    cpu: cpus()[0]?.model ?? 'unknown',
    seconds: Math.round((Date.now() - started) / 1000),
    test: { accuracy: metrics.accuracy, loss: metrics.loss, n: metrics.n },
    calibration: {
      temperature: trust.calibration.temperature,
      eceBefore: trust.calibration.before.ece,
      eceAfter: trust.calibration.after.ece,
    },
    notADigit: {
      nonDigitsRefused: trust.nonDigits?.refused ?? 0,
      byCategory: Object.fromEntries(Object.entries(trust.nonDigits?.byCategory ?? {}).map(([k, v]) => [k, v.refused])),
      mnistTestRefused: trust.mnistTest.refused,
      accuracyAnswered: trust.mnistTest.accuracyAnswered,
    },
    ...(trust.mnistTest.sets
      ? { predictionSets: { coverage: trust.mnistTest.sets.coverage, meanSize: trust.mnistTest.sets.meanSize } }
      : {}),
    onnx: { file: RUN_FILES.onnx, bytes: exported.bytes },
    ...(int8
      ? {
          int8: {
            file: RUN_FILES.onnxInt8,
            bytes: int8.bytes,
            accuracy: int8.check.accuracy,
            sameAnswers: int8.check.argmaxAgree / int8.check.count,
          },
        }
      : {}),
    quickStart: int8 ? RUN_FILES.onnxInt8 : RUN_FILES.onnx,
    files,
  };
  await writeJsonAtomic(join(staging, RELEASE_FILE), release);
  await rm(out, { recursive: true, force: true });
  await rename(staging, out);
  say(
    `released ${relative(process.cwd(), out) || out}: ${Object.keys(files).length} files, test accuracy ${(metrics.accuracy * 100).toFixed(2)}%, ECE ${(release.calibration.eceAfter * 100).toFixed(2)}%, non-digits refused ${(release.notADigit.nonDigitsRefused * 100).toFixed(1)}%`,
  );
} catch (err) {
  await rm(staging, { recursive: true, force: true });
  throw err;
} finally {
  if (!args.from) await rm(runDir, { recursive: true, force: true });
}

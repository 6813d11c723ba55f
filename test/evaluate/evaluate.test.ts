import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import sharp from 'sharp';
import { join } from 'node:path';
import { writeIdx } from '../../src/data/idx.js';
import { loadMnist } from '../../src/data/load.js';
import { dataEvaluationDir, evaluateRun } from '../../src/evaluate/evaluate.js';
import { buildReport } from '../../src/evaluate/report.js';
import { makeRunDir, removeTempDirs, startBackend, tempDir, tinyModel } from '../helpers/run-fixtures.js';

const TEST_CLASS_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009];

function cli(...args: string[]) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

before(startBackend);

after(removeTempDirs);

test('`evaluate --json` on a run folder: the whole MNIST test set, consistent metrics, metrics.json and metadata.test written', async () => {
  const dir = await makeRunDir();
  const result = cli('evaluate', dir, '--json');
  assert.equal(result.status, 0, result.stderr);
  const m = JSON.parse(result.stdout);
  for (const key of [
    'accuracy',
    'loss',
    'n',
    'confusionMatrix',
    'perClass',
    'macro',
    'weighted',
    'topK',
    'ece',
    'calibration',
    'confusedPairs',
    'worstErrors',
  ]) {
    assert.ok(key in m, `--json has ${key}`);
  }
  assert.equal(m.n, 10000);
  assert.deepEqual(
    m.confusionMatrix.map((row: number[]) => row.reduce((a, b) => a + b, 0)),
    TEST_CLASS_COUNTS,
  );
  const trace = m.confusionMatrix.reduce((sum: number, row: number[], k: number) => sum + row[k], 0);
  assert.equal(m.accuracy, trace / 10000);
  assert.deepEqual(
    m.perClass.map((s: { support: number }) => s.support),
    TEST_CLASS_COUNTS,
  );
  assert.equal(m.calibration.length, 15);
  assert.ok(m.loss > 0 && Number.isFinite(m.loss));
  // An untrained model: near chance.
  assert.ok(m.accuracy > 0.02 && m.accuracy < 0.4, `accuracy ${m.accuracy}`);

  const saved = JSON.parse(await readFile(join(dir, 'metrics.json'), 'utf8'));
  assert.deepEqual({ ...saved, evaluatedAt: null }, { ...m, evaluatedAt: null });
  const meta = JSON.parse(await readFile(join(dir, 'metadata.json'), 'utf8'));
  assert.deepEqual(meta.test, { accuracy: m.accuracy, loss: m.loss, n: 10000 });
  for (const name of [
    'learning-curves',
    'confusion-matrix',
    'per-class',
    'reliability',
    'worst-errors',
    'confused-pairs',
  ]) {
    for (const ext of ['svg', 'png'])
      assert.ok((await readFile(join(dir, 'plots', `${name}.${ext}`))).length > 1000, `${name}.${ext}`);
  }
});

test('`evaluate` without --json prints the summary and an aligned confusion matrix', async () => {
  const dir = await makeRunDir({ history: false });
  const result = cli('evaluate', dir, '--out', join(dir, 'elsewhere'));
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /accuracy \d+\.\d\d%/);
  const matrix = result.stdout.split('\n').filter((line) => /^\s+\d\s+\d/.test(line));
  assert.equal(matrix.length, 10, 'ten matrix rows');
  assert.equal(new Set(matrix.map((line) => line.length)).size, 1, 'rows of equal width');
  assert.ok(
    matrix.every((line, k) => line.trimEnd().endsWith(` ${TEST_CLASS_COUNTS[k]}`)),
    'row totals = class counts',
  );
  // --out: metrics.json goes there, not in the run folder.
  await readFile(join(dir, 'elsewhere', 'metrics.json'));
  await assert.rejects(readFile(join(dir, 'metrics.json')));
});

test("--split val uses the run's val-indices.json, and refuses clearly without it", async () => {
  const dir = await makeRunDir();
  await assert.rejects(
    evaluateRun(dir, { split: 'val', write: false }),
    (err: Error) => err.message.includes(join(dir, 'val-indices.json')) && /missing/.test(err.message),
  );
  const indices = [5, 0, 59999, 123, 4];
  await writeFile(join(dir, 'val-indices.json'), JSON.stringify(indices));
  const { metrics, set } = await evaluateRun(dir, { split: 'val', write: false });
  assert.equal(metrics.n, 5);
  assert.equal(metrics.split, 'val');
  const train = (await loadMnist()).train;
  assert.deepEqual(
    Array.from(set.labels),
    indices.map((i) => train.labels[i]),
  );
  // Written, then rebuilt into a report from metrics.json alone: the images come back from val-indices.json.
  await evaluateRun(dir, { split: 'val' });
  await rm(join(dir, 'plots'), { recursive: true });
  const html = await readFile(await buildReport(dir), 'utf8');
  assert.match(html, /val accuracy/);
  assert.ok((await readFile(join(dir, 'plots', 'confusion-matrix.png'))).length > 0);
  await writeFile(join(dir, 'val-indices.json'), JSON.stringify([1, 60000]));
  await assert.rejects(evaluateRun(dir, { split: 'val', write: false }), /entry 1 \(60000\) is not an index/);
});

test('--data evaluates an IDX images file with its labels beside it', async () => {
  const dir = await makeRunDir();
  const test10 = (await loadMnist()).test;
  const images = test10.images.subarray(0, 30 * 784);
  const labels = test10.labels.subarray(0, 30);
  await writeFile(join(dir, 'few-images-idx3-ubyte'), writeIdx([30, 28, 28], images));
  const path = join(dir, 'few-images-idx3-ubyte');
  await assert.rejects(evaluateRun(dir, { data: path, write: false }), (err: Error) =>
    err.message.includes('few-labels-idx1-ubyte is missing'),
  );
  await writeFile(join(dir, 'few-labels-idx1-ubyte'), writeIdx([30], labels));
  const { metrics } = await evaluateRun(dir, { data: path, write: false });
  assert.equal(metrics.n, 30);
  assert.equal(metrics.split, 'data');
  // The same images from the test split give the same predictions.
  const full = await evaluateRun(dir, { write: false, plots: false });
  assert.equal(metrics.predictions, full.metrics.predictions.slice(0, 30));
});

test('--data reads a labelled Kaggle CSV and a folder of class folders through the data layer', async () => {
  const dir = await makeRunDir({ history: false });
  const test10 = (await loadMnist()).test;
  const n = 12;
  const header = ['label', ...Array.from({ length: 784 }, (_, i) => `pixel${i}`)].join(',');
  const rows = Array.from({ length: n }, (_, i) =>
    [test10.labels[i], ...test10.images.subarray(i * 784, (i + 1) * 784)].join(','),
  );
  await writeFile(join(dir, 'few.csv'), [header, ...rows].join('\n') + '\n');
  for (let i = 0; i < n; i++) {
    await mkdir(join(dir, 'folder', String(test10.labels[i])), { recursive: true });
    const pixels = Buffer.from(test10.images.subarray(i * 784, (i + 1) * 784));
    await sharp(pixels, { raw: { width: 28, height: 28, channels: 1 } })
      .png()
      .toFile(join(dir, 'folder', String(test10.labels[i]), `${String(i).padStart(3, '0')}.png`));
  }
  const full = (await evaluateRun(dir, { write: false, plots: false })).metrics;
  const csv = (await evaluateRun(dir, { data: join(dir, 'few.csv'), write: false, plots: false })).metrics;
  assert.equal(csv.n, n);
  assert.equal(csv.predictions, full.predictions.slice(0, n));
  const folder = (await evaluateRun(dir, { data: join(dir, 'folder'), write: false, plots: false })).metrics;
  assert.equal(folder.n, n);
  // The folder comes out in class order: compare as (label, prediction) multisets.
  const pairs = (labels: ArrayLike<number>, predictions: string) =>
    Array.from(predictions, (p, i) => `${labels[i]}:${p}`).sort();
  const folderLabels = folder.perClass.flatMap((s) => new Array(s.support).fill(s.digit));
  assert.deepEqual(
    pairs(folderLabels, folder.predictions),
    pairs(test10.labels.subarray(0, n), full.predictions.slice(0, n)),
  );
  await assert.rejects(
    evaluateRun(dir, { data: join(dir, 'missing.csv'), write: false }),
    /missing\.csv does not exist/,
  );
});

test("`evaluate --data` writes to a folder of its own, never over the run's metrics.json (a one-image folder must not make the run read 100%)", async () => {
  const dir = await makeRunDir();
  const runMetrics = join(dir, 'metrics.json');
  await writeFile(runMetrics, '{"format": "mnist-cnn-metrics", "accuracy": 0.5}\n');
  const metadataBefore = await readFile(join(dir, 'metadata.json'), 'utf8');
  const test10 = (await loadMnist()).test;
  const folder = join(dir, 'one-image');
  await mkdir(join(folder, String(test10.labels[0])), { recursive: true });
  await sharp(Buffer.from(test10.images.subarray(0, 784)), { raw: { width: 28, height: 28, channels: 1 } })
    .png()
    .toFile(join(folder, String(test10.labels[0]), 'a.png'));

  const result = cli('evaluate', dir, '--data', folder);
  assert.equal(result.status, 0, result.stderr);
  const own = dataEvaluationDir(dir, folder);
  assert.match(own, /evaluations\/one-image-[0-9a-f]{8}$/);
  assert.ok(result.stdout.includes(`wrote ${own}/metrics.json and ${own}/plots/`), result.stdout);
  assert.equal(JSON.parse(await readFile(join(own, 'metrics.json'), 'utf8')).n, 1);
  assert.ok(existsSync(join(own, 'plots', 'confusion-matrix.svg')));
  assert.equal(
    await readFile(runMetrics, 'utf8'),
    '{"format": "mnist-cnn-metrics", "accuracy": 0.5}\n',
    "the run's metrics.json is left alone",
  );
  assert.equal(await readFile(join(dir, 'metadata.json'), 'utf8'), metadataBefore);
  assert.equal(existsSync(join(dir, 'plots')), false);
  // --out still says where.
  const out = join(dir, 'chosen');
  assert.equal(cli('evaluate', dir, '--data', folder, '--out', out, '--json').status, 0);
  assert.equal(JSON.parse(await readFile(join(out, 'metrics.json'), 'utf8')).n, 1);
});

test('truncated or mismatched run folders are refused, naming the file', async () => {
  const noWeights = await makeRunDir({ history: false });
  await rm(join(noWeights, 'weights.bin'));
  await assert.rejects(evaluateRun(noWeights, { write: false }), /weights\.bin is missing/);

  const short = await makeRunDir({ history: false });
  await truncate(join(short, 'weights.bin'), 100);
  await assert.rejects(
    evaluateRun(short, { write: false }),
    /weights\.bin: is 100 bytes, but model\.json describes 31400 bytes/,
  );

  const noModel = await makeRunDir({ history: false });
  await rm(join(noModel, 'model.json'));
  await assert.rejects(evaluateRun(noModel, { write: false }), /model\.json is missing/);

  const noMeta = await makeRunDir({ history: false });
  await rm(join(noMeta, 'metadata.json'));
  await assert.rejects(evaluateRun(noMeta, { write: false }), /metadata\.json is missing/);

  const otherTask = await makeRunDir({ model: tinyModel(1, 5), history: false });
  await assert.rejects(
    evaluateRun(otherTask, { write: false }),
    (err: Error) => err.message.includes(join(otherTask, 'model.json')) && err.message.includes('[null, 10 or 11]'),
  );

  // Through the CLI: "error: ..." on stderr and exit code 2, no stack trace.
  const result = cli('evaluate', short, '--json');
  assert.equal(result.status, 2);
  assert.match(result.stderr, /^error: .*weights\.bin: is 100 bytes/m);
  assert.doesNotMatch(result.stderr, / {4}at /);
});

test('a quick real training writes a temperature; evaluate scores the answers before and after it, with the same accuracy, in metrics.json, the summary, the diagram and the report', async () => {
  const { train } = await import('../../src/train/trainer.js');
  const { resolveConfig } = await import('../../src/train/config-file.js');
  const { formatSummary } = await import('../../src/evaluate/format.js');
  const run = await train({
    config: resolveConfig({ flags: { limit: 2000, epochs: 1, valCount: 500 } }),
    outDir: join(await tempDir(), 'run'),
    updateLatest: false,
  });
  run.model.dispose();
  const temperature = run.metadata.temperature!;
  assert.equal(run.metadata.temperatureFit?.on, 'val');
  assert.ok(Math.abs(temperature - 1) > 0.02, `a label-smoothed net needs a temperature (T = ${temperature})`);
  const { metrics: m } = await evaluateRun(run.dir);
  assert.equal(m.temperature, temperature);
  const { before, after } = m.calibrationScores!;
  // The argmax is the model's: the raw probabilities' reliability table holds the same right answers.
  const rightBefore = m.calibrationBefore!.reduce((sum, bin) => sum + bin.count * bin.accuracy, 0);
  assert.ok(
    Math.abs(rightBefore - m.accuracy * m.n) < 1e-6,
    `${rightBefore} right before the temperature, ${m.accuracy * m.n} after`,
  );
  // `ece` and `loss` are the answers' (after), as predict and serve give them.
  assert.equal(m.ece, after.ece);
  assert.ok(Math.abs(m.loss - after.nll) < 1e-12);
  // Fitted on 500 validation images, it lowers the test NLL (what it minimises); the ECE of so
  // small a net can go either way (the `npm start` model's is measured in the README).
  assert.ok(after.nll < before.nll, `test NLL ${before.nll} → ${after.nll}`);
  assert.notEqual(after.ece, before.ece);
  assert.match(
    formatSummary(m),
    new RegExp(
      `calibration, before → after temperature T = ${temperature.toFixed(3)}:  ECE \\d+\\.\\d\\d% → \\d+\\.\\d\\d%  NLL `,
    ),
  );
  const svg = await readFile(join(run.dir, 'plots', 'reliability.svg'), 'utf8');
  assert.match(svg, /orange line: before \(T = 1\)/);
  const html = await readFile(await buildReport(run.dir), 'utf8');
  assert.match(
    html,
    new RegExp(
      `temperature <b>T = ${temperature.toFixed(3)}</b> \\(fitted after training on the 500 validation images`,
    ),
  );
  assert.match(html, /<td>before \(T = 1\)<\/td>/);
});

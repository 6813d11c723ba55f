import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cp, mkdtemp, mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { loadMnist, writeIdx } from '../../../src/data/index.js';
import { Predictor } from '../../../src/predict/predictor.js';
import { preprocessMnistPixels } from '../../../src/image/preprocess.js';
import { encodeBmp24 } from '../../../src/image/bmp.js';
import { quickRunDir } from '../../helpers/quick-run.js';
import { FONTS, encodePng, invertGray, renderText, upscaleMnist } from '../../helpers/digit-pictures.js';

const runDir = await quickRunDir();
const data = await loadMnist();
const pixels = (i: number) => data.test.images.subarray(i * 784, (i + 1) * 784);
const dir = await mkdtemp(join(tmpdir(), 'mnist-cnn-predict-'));
after(() => rm(dir, { recursive: true, force: true }));

function cliWith(model: string, ...args: string[]): { code: number | null; stdout: string; stderr: string } {
  // (The timeout only keeps a hang from stalling the suite: a FIFO among the inputs once did.)
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'predict', model, ...args], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const cli = (...args: string[]) => cliWith(runDir, ...args);

/** MNIST test digits that the quick run reads correctly and surely, so tests can check values. */
async function surelyReadDigits(count: number): Promise<number[]> {
  const predictor = await Predictor.load(runDir);
  const candidates = Array.from({ length: 200 }, (_, i) => i);
  const predictions = await predictor.predict(candidates.map((i) => preprocessMnistPixels(pixels(i))));
  await predictor.close();
  return candidates
    .filter((i) => predictions[i].digit === data.test.labels[i] && predictions[i].confidence > 0.9)
    .slice(0, count);
}

function parseCsv(text: string): string[][] {
  return text
    .trim()
    .split('\n')
    .map((line) => line.split(','));
}

test('a folder of pictures: one CSV row each, a cut PNG and a non-image are error rows naming the file, exit code 1', async () => {
  const folder = join(dir, 'mixed');
  await mkdir(join(folder, 'nested'), { recursive: true });
  const good = await surelyReadDigits(3);
  for (const i of good)
    await writeFile(join(folder, `mnist-${i}.png`), await encodePng(invertGray(await upscaleMnist(pixels(i), 200))));
  await writeFile(
    join(folder, 'nested', `as-bmp-${good[0]}.bmp`),
    encodeBmp24(invertGray(await upscaleMnist(pixels(good[0]), 120))),
  );
  const whole = await encodePng(invertGray(await upscaleMnist(pixels(good[1]), 200)));
  await writeFile(join(folder, 'cut.png'), whole.subarray(0, whole.length >> 1));
  await writeFile(join(folder, 'notes.png'), 'these are not pixels');
  await writeFile(join(folder, 'README.txt'), 'not read: folders only yield images, IDX and CSV files');
  await writeFile(
    join(folder, 'blank.png'),
    await encodePng({ data: new Uint8Array(80 * 60).fill(240), width: 80, height: 60, channels: 1 }),
  );

  const { code, stdout, stderr } = cli(folder, '--format', 'csv');
  assert.equal(code, 1, stderr);
  const [header, ...rows] = parseCsv(stdout);
  assert.deepEqual(header.slice(0, 13), [
    'file',
    'digit',
    'confidence',
    'p0',
    'p1',
    'p2',
    'p3',
    'p4',
    'p5',
    'p6',
    'p7',
    'p8',
    'p9',
  ]);
  const byName = new Map(rows.map((r) => [r[0].slice(folder.length + 1), r]));
  assert.deepEqual(
    [...byName.keys()].sort(),
    ['blank.png', 'cut.png', ...good.map((i) => `mnist-${i}.png`), `nested/as-bmp-${good[0]}.bmp`, 'notes.png'].sort(),
  );
  for (const i of good) assert.equal(byName.get(`mnist-${i}.png`)![1], String(data.test.labels[i]), `mnist-${i}.png`);
  assert.equal(byName.get(`nested/as-bmp-${good[0]}.bmp`)![1], String(data.test.labels[good[0]]));
  assert.match(byName.get('cut.png')!.join(','), /error: .*truncated or corrupt/);
  assert.match(byName.get('notes.png')!.join(','), /error: .*not a PNG, JPEG/);
  assert.deepEqual(byName.get('blank.png')!.slice(1, 2), ['']);
  assert.match(byName.get('blank.png')!.join(','), /blank/);
  assert.match(stderr, /error: .*cut\.png: /);

  const fine = cli(join(folder, `mnist-${good[0]}.png`), '--format', 'json', '--top', '3');
  assert.equal(fine.code, 0, fine.stderr);
  const line = JSON.parse(fine.stdout.trim());
  assert.equal(line.digit, data.test.labels[good[0]]);
  assert.equal(line.probabilities.length, 10);
  assert.equal(line.top.length, 3);
  assert.equal(line.top[0].digit, line.digit);
});

test('IDX images with their labels beside them, and Kaggle CSVs: rows path#index, expected column, submission file', async () => {
  const n = 12;
  const idxDir = join(dir, 'idx');
  await mkdir(idxDir);
  await writeFile(join(idxDir, 't10k-images-idx3-ubyte'), writeIdx([n, 28, 28], data.test.images.subarray(0, n * 784)));
  await writeFile(join(idxDir, 't10k-labels-idx1-ubyte'), writeIdx([n], data.test.labels.subarray(0, n)));
  const idx = cli(join(idxDir, 't10k-images-idx3-ubyte'), '--format', 'csv');
  assert.equal(idx.code, 0, idx.stderr);
  const [header, ...rows] = parseCsv(idx.stdout);
  assert.equal(header.at(-1), 'expected');
  assert.equal(rows.length, n);
  rows.forEach((r, i) => {
    assert.equal(r[0], `${join(idxDir, 't10k-images-idx3-ubyte')}#${i}`);
    assert.equal(r.at(-1), String(data.test.labels[i]));
  });
  assert.match(idx.stderr, /accuracy on 12 labelled inputs: \d+\.\d\d%/);

  const csvHeader = Array.from({ length: 784 }, (_, i) => `pixel${i}`).join(',');
  const testCsv = join(dir, 'test.csv');
  await writeFile(
    testCsv,
    [csvHeader, ...Array.from({ length: 5 }, (_, i) => Array.from(pixels(i)).join(','))].join('\n') + '\n',
  );
  const submission = join(dir, 'out', 'submission.csv');
  const kaggle = cli(testCsv, '--format', 'json', '--kaggle-submission', submission);
  assert.equal(kaggle.code, 0, kaggle.stderr);
  const lines = (await readFile(submission, 'utf8')).trim().split('\n');
  assert.equal(lines[0], 'ImageId,Label');
  assert.deepEqual(
    lines.slice(1).map((l) => Number(l.split(',')[0])),
    [1, 2, 3, 4, 5],
  );
  const predicted = kaggle.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.deepEqual(
    predicted.map((p) => p.file),
    [0, 1, 2, 3, 4].map((i) => `${testCsv}#${i}`),
  );
  lines
    .slice(1)
    .forEach((l, i) =>
      assert.equal(
        Number(l.split(',')[1]),
        predicted[i].probabilities.indexOf(Math.max(...predicted[i].probabilities)),
      ),
    );

  const badCsv = join(dir, 'bad.csv');
  const rowsText = Array.from({ length: 3 }, (_, i) => Array.from(pixels(i)).join(','));
  rowsText[1] = rowsText[1].replace(/^0,/, '300,');
  await writeFile(badCsv, [csvHeader, ...rowsText].join('\n') + '\n');
  const bad = cli(badCsv, testCsv, '--format', 'csv');
  assert.equal(bad.code, 1);
  assert.match(bad.stdout, /bad\.csv,.*error: .*line 3: value 300 at column pixel0 is outside 0-255/);
  assert.equal(
    parseCsv(bad.stdout).filter((r) => r[0].startsWith(`${testCsv}#`) && r[1] !== '').length,
    5,
    'the good CSV is still read',
  );
});

test('--number reads a row of digits left to right; --explain draws every stage', async () => {
  const good = await surelyReadDigits(4);
  // A handwritten number: four MNIST digits side by side on white paper, a little apart.
  const tiles = await Promise.all(good.map(async (i) => encodePng(invertGray(await upscaleMnist(pixels(i), 100)))));
  const row = await sharp({ create: { width: 470, height: 140, channels: 3, background: '#ffffff' } })
    .composite(tiles.map((t, k) => ({ input: Buffer.from(t), left: 20 + k * 110, top: 20 })))
    .png()
    .toBuffer();
  const numberFile = join(dir, 'number.png');
  await writeFile(numberFile, row);
  const printed = join(dir, 'printed-2026.png');
  await writeFile(
    printed,
    await encodePng(
      await renderText({
        text: '2026',
        font: FONTS[0],
        width: 520,
        height: 200,
        size: 120,
        ink: 'black',
        paper: 'white',
      }),
    ),
  );
  const explainDir = join(dir, 'explain');
  const { code, stdout, stderr } = cli(
    numberFile,
    printed,
    '--number',
    '--format',
    'json',
    '--min-confidence',
    '0',
    '--explain',
    explainDir,
  );
  assert.equal(code, 0, stderr);
  const [handwritten, font] = stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(handwritten.number, good.map((i) => data.test.labels[i]).join(''));
  assert.equal(handwritten.digits.length, 4);
  assert.equal(font.digits.length, 4);
  const written = (await readdir(explainDir)).sort();
  assert.deepEqual(written, ['0001-number.png', '0002-printed-2026.png']);
  const meta = await sharp(join(explainDir, written[0])).metadata();
  assert.equal(meta.format, 'png');
  assert.ok(meta.width > meta.height, 'a strip');

  const single = cli(printed, '--explain', explainDir, '--format', 'csv');
  assert.equal(single.code, 0, single.stderr);
  assert.ok((await readdir(explainDir)).includes('0001-printed-2026.png'));
});

test('a FIFO named on the command line is an error row, not a hang; links and FIFOs inside folders are followed or reported', async () => {
  const pictures = join(dir, 'links');
  await mkdir(pictures);
  const good = await surelyReadDigits(1);
  await writeFile(join(dir, 'target.png'), await encodePng(invertGray(await upscaleMnist(pixels(good[0]), 100))));
  await symlink(join(dir, 'target.png'), join(pictures, 'link.png'));
  await symlink(join(dir, 'nothing-here.png'), join(pictures, 'dangling.png'));
  const fifo = join(dir, 'pipe.png');
  assert.equal(spawnSync('mkfifo', [fifo]).status, 0, 'mkfifo');
  await symlink(fifo, join(pictures, 'pipe-link.png'));

  const { code, stdout, stderr } = cli(fifo, pictures, '--format', 'csv');
  assert.equal(code, 1, stderr);
  const rows = new Map(
    parseCsv(stdout)
      .slice(1)
      .map((r) => [r[0], r]),
  );
  assert.equal(rows.get(join(pictures, 'link.png'))![1], String(data.test.labels[good[0]]));
  assert.match(rows.get(fifo)!.join(','), /error: a FIFO, not a regular file: not opened/);
  assert.match(stderr, new RegExp(`^error: ${fifo}: a FIFO, not a regular file: not opened$`, 'm'));
  assert.match(
    stderr,
    new RegExp(
      `^skipped ${join(pictures, 'dangling.png')}: a dangling symbolic link \\(to ${join(dir, 'nothing-here.png')}\\)$`,
      'm',
    ),
  );
  assert.match(stderr, new RegExp(`^skipped ${join(pictures, 'pipe-link.png')}: a FIFO: not opened$`, 'm'));
});

test('a run whose weights are NaN is refused in one line (it used to answer "digit 0, confidence null")', async () => {
  const broken = join(dir, 'nan-run');
  await cp(runDir, broken, { recursive: true });
  const weights = join(broken, 'weights.bin');
  const values = new Float32Array(new Uint8Array(await readFile(weights)).buffer);
  await writeFile(weights, new Uint8Array(values.fill(Number.NaN).buffer));
  await writeFile(join(dir, 'one.png'), await encodePng(invertGray(await upscaleMnist(pixels(0), 100))));
  const { code, stdout, stderr } = cliWith(broken, join(dir, 'one.png'));
  assert.equal(code, 2);
  assert.equal(stdout, '');
  assert.match(stderr, new RegExp(`^error: ${weights}: the weights of \\S+ are NaN or infinite: the model is broken`));
  assert.equal(stderr.trim().split('\n').length, 1, stderr);
});

test('usage errors: unknown format, bad --top, missing model', () => {
  assert.equal(cli('x.png', '--format', 'xml').code, 2);
  assert.match(cli('x.png', '--top', '0').stderr, /not a whole number >= 1/);
  const missing = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'predict', '--model', join(dir, 'no-run'), 'x.png'],
    { encoding: 'utf8' },
  );
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /error: .*no-run does not exist/);
  // Without --model, a first argument that is no run folder is an input like the others (read by the shipped model).
  const asInput = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'predict', join(dir, 'no-run'), 'x.png'],
    { encoding: 'utf8' },
  );
  assert.equal(asInput.status, 1);
  assert.match(asInput.stderr, /error: .*no-run: /);
  assert.match(asInput.stderr, /error: x\.png: /);
});

test('with no run given, the model shipped in the package reads a printed 7: alone, as `default` first, or with --model default', async () => {
  const seven = join(dir, 'printed-7.png');
  await writeFile(
    seven,
    await encodePng(
      await renderText({ text: '7', font: FONTS[0], width: 200, height: 200, size: 150, ink: 'black', paper: 'white' }),
    ),
  );
  for (const args of [[seven], ['default', seven], ['--model', 'default', seven]]) {
    const result = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'predict', ...args, '--format', 'json'],
      { encoding: 'utf8', timeout: 120_000 },
    );
    assert.equal(result.status, 0, result.stderr);
    // (JSON lines: one object per input.)
    assert.equal(JSON.parse(result.stdout).digit, 7, `${args.join(' ')}: ${result.stdout}`);
  }
});

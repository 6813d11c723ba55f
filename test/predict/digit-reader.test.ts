/**
 * The one-call reader, imported from the library's entry as a user imports it, against the
 * CLI's `predict --format json` on the same files: the same answers, to the last decimal, for
 * every kind of input it takes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { realpathSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { digitReader, type DigitReader, type Prediction } from '../../src/index.js';
import { preprocessImage } from '../../src/image/preprocess.js';
import { nonDigitRunDir } from '../helpers/non-digit-run.js';
import { dotPng, printedDigitPng } from '../helpers/printed-digit.js';
import { removeTempDirs, tempDir } from '../helpers/run-fixtures.js';

const run = promisify(execFile);

/** `mnist-cnn predict [--model RUN] FILES --format json` → the answer for each file, by file (no RUN: the shipped model). */
async function cliAnswers(runDir: string | undefined, files: string[]): Promise<Map<string, Prediction>> {
  const model = runDir === undefined ? [] : ['--model', runDir];
  const { stdout } = await run(
    process.execPath,
    ['bin/mnist-cnn.js', 'predict', ...model, ...files, '--format', 'json', '--threads', '1'],
    { maxBuffer: 1 << 24 },
  );
  const answers = new Map<string, Prediction>();
  for (const line of stdout.trim().split('\n')) {
    // (`top`, the --top view of the probabilities, is the CLI's own.)
    const { file, top: _top, ...prediction } = JSON.parse(line) as Prediction & { file: string; top: unknown };
    answers.set(file, prediction);
  }
  return answers;
}

describe('digitReader (Node)', () => {
  let runDir: string;
  let dir: string;
  let read: DigitReader;
  const files: Record<string, string> = {};
  let cli: Map<string, Prediction>;
  let server: Server;
  let base: string;
  /** The printed 7 in MNIST form: 28x28 bytes, white on black. */
  let mnistSeven: Uint8Array;

  before(async () => {
    runDir = await nonDigitRunDir();
    dir = await tempDir('mnist-reader-');
    const pictures = {
      seven: await printedDigitPng(7),
      three: await printedDigitPng(3),
      dot: await dotPng(),
      jpeg: await sharp(await printedDigitPng(4))
        .jpeg()
        .toBuffer(),
    };
    for (const [name, bytes] of Object.entries(pictures)) {
      files[name] = join(dir, name === 'jpeg' ? 'four.jpg' : `${name}.png`);
      await writeFile(files[name], bytes);
    }
    // The seven in MNIST form (what IDX files and Kaggle CSVs hold), as a CSV the CLI reads.
    const { data, info } = await sharp(pictures.seven).raw().toBuffer({ resolveWithObject: true });
    const mnist = (mnistSeven = preprocessImage({
      data,
      width: info.width,
      height: info.height,
      channels: info.channels,
    }).pixels);
    files.csv = join(dir, 'seven.csv');
    await writeFile(
      files.csv,
      `${Array.from(mnist, (_, i) => `pixel${i}`).join(',')}\n${Array.from(mnist).join(',')}\n`,
    );
    cli = await cliAnswers(runDir, Object.values(files));
    read = await digitReader({ model: runDir, threads: 1 });
    server = createServer((request, response) => {
      const name = request.url?.slice(1) ?? '';
      if (!(name in pictures)) return void response.writeHead(404).end('no such picture');
      response.writeHead(200, { 'content-type': 'image/png' }).end(pictures[name as keyof typeof pictures]);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    await read?.close();
    await new Promise((resolve) => server?.close(resolve));
    await removeTempDirs();
  });

  test('with no options, the model shipped in the package: the answers of `mnist-cnn predict` with no model named', async () => {
    const shipped = await digitReader();
    try {
      assert.equal(shipped.model, realpathSync(join('models', 'default')));
      const names = [files.seven, files.three, files.dot];
      const expected = await cliAnswers(undefined, names);
      const answers = await shipped(names);
      assert.deepEqual(
        answers,
        names.map((name) => expected.get(name)),
      );
      assert.deepEqual(
        answers.map((a) => a.digit),
        [7, 3, null],
      );
      assert.match(answers[2].reason ?? '', /^not a digit/);
    } finally {
      await shipped.close();
    }
  });

  test('a printed 7 from a file path: 7, the very answer `mnist-cnn predict --format json` gives', async () => {
    const answer = await read(files.seven);
    assert.equal(answer.digit, 7, `read as ${answer.digit} (${answer.reason})`);
    assert.deepEqual(answer, cli.get(files.seven));
    assert.equal(answer.probabilities.length, 10);
    assert.equal(typeof answer.notADigit, 'number', 'a model trained with non-digits says how likely "not a digit" is');
  });

  test("an array of inputs of every kind: an array of answers, each the CLI's for the same picture", async () => {
    const seven = cli.get(files.seven);
    const png = await printedDigitPng(7);
    const { data, info } = await sharp(png).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    const csvRow = cli.get(`${files.csv}#0`);
    const answers = await read([
      files.three,
      files.jpeg,
      files.dot,
      pathToFileURL(files.seven),
      pathToFileURL(files.seven).href,
      png,
      new Uint8Array(png),
      { data, width: info.width, height: info.height },
      mnistSeven,
    ]);
    assert.equal(answers.length, 9);
    assert.deepEqual(answers.slice(0, 3), [cli.get(files.three), cli.get(files.jpeg), cli.get(files.dot)]);
    for (const answer of answers.slice(3, 8)) assert.deepEqual(answer, seven);
    assert.deepEqual(answers[8], csvRow, 'MNIST-form pixels are read as the CLI reads a CSV row');
    assert.equal(answers[2].digit, null, 'a dot is not a digit');
    assert.match(answers[2].reason ?? '', /not a digit|too small/);
  });

  test('http: and data: URLs are fetched and read; a missing one is a clear error naming it', async () => {
    assert.deepEqual(await read(`${base}/seven`), cli.get(files.seven));
    assert.deepEqual(
      await read(`data:image/png;base64,${(await printedDigitPng(7)).toString('base64')}`),
      cli.get(files.seven),
    );
    await assert.rejects(read(`${base}/nothing`), {
      name: 'UserError',
      message: `${base}/nothing: the server answered HTTP 404`,
    });
  });

  test('bad inputs are refused with a message that names them, and the reader still works after', async () => {
    await assert.rejects(read(join(dir, 'absent.png')), {
      name: 'UserError',
      message: `${join(dir, 'absent.png')}: file not found`,
    });
    await assert.rejects(
      read(new Uint8Array(100)),
      /100 bytes that are neither an image file .* nor 28x28 = 784 MNIST-form pixels/,
    );
    await assert.rejects(
      read({ data: new Uint8Array(10), width: 3, height: 3 }),
      /a 3x3 picture: 10 bytes of data do not make a 3x3 picture/,
    );
    await assert.rejects(read([files.seven, 42 as unknown as string]), /input 1: number: not a picture/);
    await assert.rejects(read('ftp://example.com/x.png'), {
      message: 'ftp://example.com/x.png: only file:, http:, https: and data: URLs are read',
    });
    assert.equal((await read(files.seven)).digit, 7);
  });

  test("minConfidence is the CLI's --min-confidence; after close the reader refuses", async () => {
    const strict = await digitReader({ model: runDir, minConfidence: 0.999999, runtime: 'tfjs' });
    try {
      assert.equal(strict.runtime, 'tfjs');
      const answer = await strict(files.three);
      const loose = cli.get(files.three)!;
      if (loose.confidence < 0.999999) assert.match(answer.reason ?? '', /^low confidence/);
      assert.ok(
        Math.abs(answer.confidence - loose.confidence) < 1e-5,
        'the tfjs runtime gives the same probabilities as ONNX Runtime to about 1e-6',
      );
    } finally {
      await strict.close();
    }
    await assert.rejects(strict(files.seven), /this digit reader is closed/);
  });
});

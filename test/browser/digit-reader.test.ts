/**
 * `import { digitReader } from 'mnist-cnn/browser'` in Chromium: the built bundle
 * (dist/browser/mnist-cnn.js, what package.json's "./browser" export names) served from a
 * folder laid out like the installed package (dist/browser/ beside models/default/, the shipped
 * model) by a static file server that is not ours. It reads the printed 7 the Node test reads,
 * from every kind of browser input, with the Node reader's answer.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { digitReader, type Prediction } from '../../src/index.js';
import { printedDigitPng } from '../helpers/printed-digit.js';
import { removeTempDirs, tempDir } from '../helpers/run-fixtures.js';
import { startStaticServer } from '../helpers/static-server.js';
import { launchChromium, skipWithoutChromium } from '../helpers/chromium.js';

const BUNDLE = join('dist', 'browser', 'mnist-cnn.js');
const skip = skipWithoutChromium;
/** The bundle as the page imports it (an absolute path on the static server). */
const ENTRY = `/${BUNDLE}`;
const EXPORTS = JSON.parse(readFileSync('package.json', 'utf8')).exports['./browser'];

/** Two answers alike: the same digit and reason, probabilities within cpu-vs-ONNX rounding. */
function assertSameAnswer(actual: Prediction, expected: Prediction, what: string): void {
  assert.equal(actual.digit, expected.digit, `${what}: read as ${actual.digit} (${actual.reason})`);
  assert.equal(
    actual.reason === undefined,
    expected.reason === undefined,
    `${what}: reason ${actual.reason} vs ${expected.reason}`,
  );
  assert.ok(
    Math.abs(actual.confidence - expected.confidence) < 1e-3,
    `${what}: confidence ${actual.confidence} vs ${expected.confidence}`,
  );
  for (const [k, p] of actual.probabilities.entries())
    assert.ok(Math.abs(p - expected.probabilities[k]) < 1e-3, `${what}: p${k} ${p} vs ${expected.probabilities[k]}`);
  assert.ok(Math.abs((actual.notADigit ?? 0) - (expected.notADigit ?? 0)) < 1e-3);
}

describe('digitReader in the browser (mnist-cnn/browser)', { skip }, () => {
  let server: Awaited<ReturnType<typeof startStaticServer>>;
  let browser: Browser;
  let page: Page;
  let inNode: Prediction;
  const problems: string[] = [];

  before(async () => {
    assert.equal(EXPORTS.default, `./${BUNDLE}`, 'package.json exports "./browser" names the bundle');
    assert.ok(existsSync(BUNDLE), `${BUNDLE} is not built: npm run build`);
    const root = await tempDir('mnist-browser-');
    // The installed package's layout: dist/browser/ and models/default/ side by side.
    await mkdir(join(root, 'dist', 'browser'), { recursive: true });
    await copyFile(BUNDLE, join(root, BUNDLE));
    await mkdir(join(root, 'models', 'default'), { recursive: true });
    for (const file of ['model.json', 'weights.bin', 'metadata.json'])
      await copyFile(join('models', 'default', file), join(root, 'models', 'default', file));
    const seven = await printedDigitPng(7);
    await writeFile(join(root, 'seven.png'), seven);
    await writeFile(
      join(root, 'index.html'),
      '<!doctype html><meta charset="utf-8"><title>reader</title><img id="seven" src="seven.png" alt="">',
    );
    const read = await digitReader();
    inNode = await read(seven);
    await read.close();
    server = await startStaticServer(root);
    browser = await launchChromium();
    page = await browser.newPage();
    page.setDefaultTimeout(60_000);
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    await page.goto(`${server.url}/index.html`);
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    await removeTempDirs();
  });

  test("the package's own model by default (models/default beside dist/), and the printed 7 read as Node reads it", async () => {
    assert.equal(inNode.digit, 7);
    const { model, answer } = await page.evaluate(async (entry) => {
      const { digitReader } = await import(entry);
      const read = await digitReader();
      const answer = await read('seven.png');
      await read.close();
      return { model: read.model as string, answer: answer as Prediction };
    }, ENTRY);
    assert.equal(model, `${server.url}/models/default/model.json`);
    assertSameAnswer(answer, inNode, 'a relative URL');
  });

  test('every kind of browser input, one by one and as an array, gives the same answer', async () => {
    const { answers, array, pixels } = await page.evaluate(async (entry) => {
      const { digitReader } = await import(entry);
      const read = await digitReader({ model: new URL('models/default/model.json', document.baseURI) });
      const image = document.getElementById('seven') as HTMLImageElement;
      await image.decode();
      const blob = await (await fetch('seven.png')).blob();
      const canvas = Object.assign(document.createElement('canvas'), {
        width: image.naturalWidth,
        height: image.naturalHeight,
      });
      const context = canvas.getContext('2d')!;
      context.drawImage(image, 0, 0);
      const imageData = context.getImageData(0, 0, canvas.width, canvas.height);
      const inputs = {
        url: new URL('seven.png', document.baseURI),
        blob,
        file: new File([blob], 'seven.png', { type: 'image/png' }),
        bytes: new Uint8Array(await blob.arrayBuffer()),
        image,
        canvas,
        bitmap: await createImageBitmap(blob),
        imageData,
        imageDataLike: { data: imageData.data, width: imageData.width, height: imageData.height },
      };
      const answers: Record<string, unknown> = {};
      for (const [name, input] of Object.entries(inputs)) answers[name] = await read(input);
      const array = await read([image, 'seven.png']);
      // The same picture in MNIST form: the 28x28 bytes a canvas of that size holds, white on black.
      const small = Object.assign(document.createElement('canvas'), { width: 28, height: 28 }).getContext('2d', {
        willReadFrequently: true,
      })!;
      small.fillStyle = '#000';
      small.fillRect(0, 0, 28, 28);
      small.fillStyle = '#fff';
      small.font = '22px DejaVu Sans';
      small.textAlign = 'center';
      small.fillText('7', 14, 23);
      const rgba = small.getImageData(0, 0, 28, 28).data;
      const pixels = await read(Uint8Array.from({ length: 784 }, (_, i) => rgba[i * 4]));
      await read.close();
      return { answers, array: array as Prediction[], pixels: pixels as Prediction };
    }, ENTRY);
    for (const [name, answer] of Object.entries(answers)) assertSameAnswer(answer as Prediction, inNode, name);
    assert.equal(array.length, 2);
    for (const answer of array) assertSameAnswer(answer, inNode, 'array');
    assert.equal(pixels.digit, 7, `784 MNIST-form bytes read as ${pixels.digit} (${pixels.reason})`);
  });

  test('a model URL without its metadata.json, a missing picture and a closed reader are clear errors', async () => {
    const messages = await page.evaluate(async (entry) => {
      const { digitReader } = await import(entry);
      // (No helper function here: the test runner's transform would name it with a function the page lacks.)
      const read = await digitReader({ model: '/models/default/model.json' });
      const missing = await read('absent.png').then(
        () => 'no error',
        (err: Error) => err.message,
      );
      const notPicture = await read(42).then(
        () => 'no error',
        (err: Error) => err.message,
      );
      await read.close();
      const noMetadata = await digitReader({ model: '/nowhere/model.json' }).then(
        () => 'no error',
        (err: Error) => err.message,
      );
      return {
        noMetadata,
        missing,
        notPicture,
        closed: await read('seven.png').then(
          () => 'no error',
          (err: Error) => err.message,
        ),
      };
    }, ENTRY);
    assert.match(
      messages.noMetadata,
      /\/nowhere\/metadata\.json \(the run's metadata\.json, beside model\.json\): the server answered HTTP 404/,
    );
    assert.match(messages.missing, /absent\.png: the server answered HTTP 404/);
    assert.match(messages.notPicture, /not a picture/);
    assert.equal(messages.closed, 'this digit reader is closed');
    assert.deepEqual(problems, []);
  });
});

/**
 * The page with no server: `npm run build:site` (scripts/build-site.mjs) writes a folder, a
 * plain static file server that is not ours (Python's http.server) serves it under a sub-path,
 * as a project page on a static host is, and Chromium draws on it: a 7 is read as 7, a dot is
 * "not a digit", every request stays inside the site, and the bars match the numbers.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { IDX_FILES } from '../../src/data/checksums.js';
import { DOT, drawStrokes, paintedBars, SEVEN } from '../helpers/page-drawing.js';
import { removeTempDirs, tempDir } from '../helpers/run-fixtures.js';
import { startStaticServer } from '../helpers/static-server.js';
import { launchChromium, recordProblems, skipWithoutChromium } from '../helpers/chromium.js';

const skip = skipWithoutChromium;
const run = promisify(execFile);

/** The page's answer (#digit) once it answers the latest input. */
async function shownAnswer(page: Page): Promise<{ text: string; reason: string }> {
  await page.waitForFunction(() => {
    const digit = document.getElementById('digit');
    return digit !== null && digit.dataset.input === document.body.dataset.input && document.body.dataset.input !== '0';
  });
  return page.locator('#digit').evaluate((digit: HTMLElement) => ({ text: digit.textContent ?? '', reason: digit.dataset.reason ?? '' }));
}

describe('the static site (npm run build:site)', { skip }, () => {
  let site: string;
  let server: Awaited<ReturnType<typeof startStaticServer>>;
  let browser: Browser;
  let page: Page;
  let base: string;
  const requests: string[] = [];
  const problems: string[] = [];

  before(async () => {
    const root = await tempDir('mnist-site-');
    site = join(root, 'digits', 'site');
    // The model shipped in the package, the site's default.
    await run(process.execPath, ['scripts/build-site.mjs', '--out', site]);
    server = await startStaticServer(root);
    base = `${server.url}/digits/site/`;
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(60_000);
    page.on('request', (request) => requests.push(request.url()));
    recordProblems(page, problems);
    await page.goto(base);
    await page.waitForFunction(() => document.body.dataset.state === 'ready');
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    await removeTempDirs();
  });

  test('the folder: the page, its chunks and the model, with relative URLs only', async () => {
    const files = await readdir(site);
    for (const file of ['index.html', 'app.js', 'style.css', 'model']) assert.ok(files.includes(file), `${file} is missing from the site`);
    assert.deepEqual((await readdir(join(site, 'model'))).sort(), ['metadata.json', 'model.json', 'weights.bin']);
    assert.deepEqual(await readFile(join(site, 'model', 'weights.bin')), await readFile(join('models', 'default', 'weights.bin')));
    const html = await readFile(join(site, 'index.html'), 'utf8');
    assert.doesNotMatch(html, /(href|src)="\//, 'an absolute URL in index.html');
    assert.match(html, /data-model="model\/model\.json"/);
  });

  test('loads with the model in the browser and no server toggle', async () => {
    assert.equal(await page.evaluate(() => document.body.dataset.browserModel), 'ready', (await page.locator('#status').textContent()) ?? '');
    assert.match((await page.locator('#model-info').textContent()) ?? '', /^Model: default, .* parameters, test accuracy \d+\.\d+%\.$/);
    assert.equal(await page.locator('#browser-toggle').isVisible(), false);
    assert.equal(await page.locator('#compare').isVisible(), false);
  });

  test('a drawn 7 is read as 7, and the bars are painted as tall as the numbers', async () => {
    await page.click('#clear');
    await drawStrokes(page, SEVEN);
    const answer = await shownAnswer(page);
    assert.equal(answer.text, '7', `read as ${answer.text} (${answer.reason})`);
    for (const bar of await paintedBars(page)) {
      assert.ok(Math.abs(bar.painted - bar.expected) <= 2, `digit ${bar.digit} at ${(bar.probability * 100).toFixed(1)}%: ${bar.painted} px painted, ${bar.expected.toFixed(1)} px expected`);
    }
  });

  test('a drawn dot is "not a digit", and no bar is highlighted', async () => {
    await page.click('#clear');
    await drawStrokes(page, DOT);
    const answer = await shownAnswer(page);
    assert.equal(answer.text, 'not a digit');
    assert.match(answer.reason, /^not a digit|too small/);
    assert.equal(await page.locator('#chart li.best').count(), 0, 'no digit is highlighted as the answer');
  });

  test('the Train panel trains here too, on one worker (no cross-origin isolation on a plain host), from the MNIST files copied into the site', async () => {
    const files = await readdir(join(site, 'data', 'mnist'));
    assert.deepEqual(files.sort(), [...IDX_FILES].sort());
    assert.equal(await page.evaluate(() => crossOriginIsolated), false);
    assert.equal(await page.locator('#train-threads').getAttribute('data-value'), '1');
    await page.click('#train');
    await page.waitForFunction(() => Number(document.getElementById('train-progress')!.dataset.step) >= 10);
    await page.click('#train-stop');
    await page.waitForFunction(() => ['done', 'error'].includes(document.getElementById('training')!.dataset.state!));
    assert.equal(await page.locator('#training').getAttribute('data-state'), 'done', (await page.locator('#train-status').textContent()) ?? '');
    // Ten steps of batches of 128 are far from done, and far above chance (10%).
    const accuracy = Number(await page.locator('#train-accuracy').getAttribute('data-value'));
    assert.ok(accuracy > 0.5, `test accuracy ${accuracy} after about ten steps`);
    assert.match((await page.locator('#model-info').textContent()) ?? '', /^Answering: the compact net trained in this tab/);
  });

  test('every request stayed inside the site, and nothing failed', () => {
    const outside = requests.filter((url) => !url.startsWith(base) && !url.startsWith('data:'));
    assert.deepEqual(outside, []);
    assert.ok(requests.some((url) => url.endsWith('/model/weights.bin')), 'the model was fetched from the site');
    assert.ok(requests.some((url) => url.endsWith('/data/mnist/train-images-idx3-ubyte')), 'the training images were fetched from the site');
    assert.deepEqual(problems, []);
  });
});

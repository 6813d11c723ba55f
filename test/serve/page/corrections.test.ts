/**
 * "Wrong? It is a …" on the draw-a-digit page, in Chromium: drawn on the pad, corrected, and
 * found as a file in the server's corrections folder (`serve --corrections DIR`); without a
 * folder on the server, kept in the browser (across a reload) and downloaded as a zip of the
 * same layout.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import sharp from 'sharp';
import { startServer, type RunningServer } from '../../../src/serve/server.js';
import { drawStrokes, SEVEN } from '../../helpers/page-drawing.js';
import { removeTempDirs, tempDir } from '../../helpers/run-fixtures.js';

const CHROMIUM = '/usr/bin/chromium';
const skip = existsSync(CHROMIUM)
  ? false
  : `${CHROMIUM} is absent: install Debian's chromium (apt-get install chromium) to run the browser test`;

interface Shown {
  state: string;
  where: string;
  file: string;
  count: string;
}

/** The bar's test hooks. */
const shown = (page: Page): Promise<Shown> =>
  page.locator('#correct').evaluate((bar: HTMLElement) => ({
    state: bar.dataset.state ?? '',
    where: bar.dataset.where ?? '',
    file: bar.dataset.file ?? '',
    count: bar.dataset.count ?? '',
  }));

/** Draw a 7, wait for its answer, and say it is `label`; what the bar shows once filed. */
async function drawAndCorrect(page: Page, label: string, draw = true): Promise<Shown> {
  if (draw) {
    await page.click('#clear');
    await drawStrokes(page, SEVEN);
    await page.waitForFunction(
      () =>
        document.getElementById('digit')?.dataset.input === document.body.dataset.input &&
        document.getElementById('correct')?.dataset.state === 'ready',
    );
  }
  await page.click(`#correct button[data-label="${label}"]`);
  await page.waitForFunction(() =>
    ['saved', 'error'].includes(document.getElementById('correct')?.dataset.state ?? ''),
  );
  return shown(page);
}

/** The 28x28 picture the page shows as what the model sees. */
const preview = (page: Page): Promise<number[]> =>
  page.locator('#preview').evaluate((canvas: HTMLCanvasElement) =>
    Array.from(
      canvas
        .getContext('2d')!
        .getImageData(0, 0, 28, 28)
        .data.filter((_, i) => i % 4 === 0),
    ),
  );

/** A PNG's first channel. */
async function grayOf(png: Uint8Array): Promise<{ pixels: number[]; width: number; height: number }> {
  const { data, info } = await sharp(png).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
  return { pixels: Array.from(data), width: info.width, height: info.height };
}

async function launch(url: string, problems: string[]): Promise<{ browser: Browser; page: Page }> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  page.setDefaultTimeout(60_000);
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
  });
  await page.goto(url);
  await page.waitForFunction(() => document.body.dataset.state === 'ready');
  return { browser, page };
}

describe('corrections from the page', { skip }, () => {
  let pageDir: string;
  before(async () => {
    pageDir = join(await tempDir('mnist-page-corrections-'), 'page');
    execFileSync(process.execPath, ['scripts/build-page.mjs', '--out', pageDir], { stdio: 'pipe' });
  });
  after(removeTempDirs);

  describe('served with --corrections DIR', () => {
    let server: RunningServer;
    let browser: Browser;
    let page: Page;
    let folder: string;
    const problems: string[] = [];

    before(async () => {
      folder = join(await tempDir('mnist-corrections-'), 'corrections');
      server = await startServer({ runDir: 'default', host: '127.0.0.1', port: 0, pageDir, corrections: folder });
      ({ browser, page } = await launch(server.url + '/', problems));
    });
    after(async () => {
      await browser?.close();
      await server?.close();
    });

    test('no question before an answer; a drawn 7 corrected as a 1 is a file in DIR/1/, the picture the model saw, with the drawing beside it', async () => {
      assert.equal((await shown(page)).state, 'hidden');
      assert.equal(await page.locator('#correct .correct-ask').isVisible(), false);
      const filed = await drawAndCorrect(page, '1');
      assert.equal(filed.state, 'saved', (await page.locator('#correct .correct-status').textContent()) ?? '');
      assert.equal(filed.where, 'server');
      assert.match(filed.file, /^1\/[0-9a-f]{16}\.png$/);
      assert.match(
        (await page.locator('#correct .correct-status').textContent()) ?? '',
        /^Saved as a 1 in the server's corrections folder \(1\)\.$/,
      );
      const input = await grayOf(await readFile(join(folder, filed.file)));
      assert.deepEqual([input.width, input.height], [28, 28]);
      assert.deepEqual(input.pixels, await preview(page));
      const drawn = await grayOf(await readFile(join(folder, 'drawn', filed.file)));
      assert.deepEqual([drawn.width, drawn.height], [280, 280]);
      assert.ok(
        drawn.pixels.some((v) => v > 200),
        'the drawing holds the white strokes',
      );
    });

    test('clicked twice, one file; then said to be a 7 after all, it moves to DIR/7/', async () => {
      const again = await drawAndCorrect(page, '1', false);
      assert.match((await page.locator('#correct .correct-status').textContent()) ?? '', /^Already saved as a 1/);
      assert.deepEqual(await readdir(join(folder, '1')), [again.file.slice(2)]);
      const seven = await drawAndCorrect(page, '7', false);
      assert.equal(seven.file, `7/${again.file.slice(2)}`);
      assert.deepEqual(await readdir(join(folder, '1')), []);
      assert.deepEqual(await readdir(join(folder, '7')), [again.file.slice(2)]);
      assert.equal(seven.count, '1');
    });

    test('"not a digit" goes to DIR/not-a-digit/; Clear hides the question', async () => {
      const other = await drawAndCorrect(page, 'not-a-digit');
      assert.match(other.file, /^not-a-digit\/[0-9a-f]{16}\.png$/);
      assert.ok(existsSync(join(folder, other.file)));
      await page.click('#clear');
      assert.equal((await shown(page)).state, 'hidden');
      assert.deepEqual(problems, []);
    });
  });

  describe('served without a corrections folder: kept in the browser', () => {
    let server: RunningServer;
    let browser: Browser;
    let page: Page;
    const problems: string[] = [];

    before(async () => {
      server = await startServer({ runDir: 'default', host: '127.0.0.1', port: 0, pageDir });
      ({ browser, page } = await launch(server.url + '/', problems));
    });
    after(async () => {
      await browser?.close();
      await server?.close();
    });

    test('corrections are kept in this browser, survive a reload, download as a zip of the folder layout, and can be forgotten', async () => {
      assert.equal((await shown(page)).where, 'browser');
      assert.equal(await page.locator('#correct .correct-download').isVisible(), false);
      const three = await drawAndCorrect(page, '3');
      assert.equal(three.where, 'browser');
      assert.match((await page.locator('#correct .correct-status').textContent()) ?? '', /in this browser \(1\)/);
      await page.reload();
      await page.waitForFunction(() => document.body.dataset.state === 'ready');
      assert.equal((await shown(page)).count, '1');
      assert.equal(await page.locator('#correct .correct-download').textContent(), 'Download 1 correction (zip)');
      const [download] = await Promise.all([page.waitForEvent('download'), page.click('#correct .correct-download')]);
      assert.equal(download.suggestedFilename(), 'corrections.zip');
      const zip = join(await tempDir('mnist-corrections-zip-'), 'corrections.zip');
      await download.saveAs(zip);
      const listing = execFileSync(
        'python3',
        [
          '-c',
          'import zipfile,sys; z=zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; print("\\n".join(z.namelist()))',
          zip,
        ],
        { encoding: 'utf8' },
      )
        .trim()
        .split('\n');
      assert.deepEqual(listing, [three.file, `drawn/${three.file}`]);
      await page.click('#correct .correct-forget');
      // (Forgetting clears IndexedDB first: the click returns before the bar says so.)
      await page.waitForFunction(() => document.getElementById('correct')?.dataset.count === '0');
      assert.equal(await page.locator('#correct .correct-download').isVisible(), false);
      assert.deepEqual(problems, []);
    });
  });
});

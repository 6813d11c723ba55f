/**
 * The draw-a-digit page end to end: the real server on 127.0.0.1 with a trained model, the page
 * bundled by scripts/build-page.mjs, Debian's Chromium driven by playwright-core. Strokes are
 * drawn with the mouse, a PNG is uploaded, the model is run in the browser too, and the "Inside
 * the network" panel shows every layer's maps from the server and from the browser.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { startServer, type RunningServer } from '../../../src/serve/server.js';
import { quickRunDir } from '../../helpers/quick-run.js';
import { nonDigitRunDir } from '../../helpers/non-digit-run.js';
import { calibratedRun } from '../../helpers/calibrated-run.js';
import { printedDigitPng as digitPng } from '../../helpers/printed-digit.js';
import { drawStrokes, FOUR, FOUR_OR_NINE, ONE, paintedBars, SEVEN, ZIGZAG } from '../../helpers/page-drawing.js';
import { launchChromium, recordProblems, skipWithoutChromium } from '../../helpers/chromium.js';
import { shippedModelDir } from '../../../src/model/shipped.js';

const skip = skipWithoutChromium;
const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 375, height: 800 };
/**
 * Screenshots for a person to look at, written only where MNIST_SCREENSHOTS names a folder (tests
 * leave nothing behind); without it they are still taken, which renders the page, and dropped.
 */
const SCREENSHOTS = process.env.MNIST_SCREENSHOTS;
const screenshotPath = (name: string) => (SCREENSHOTS ? join(SCREENSHOTS, name) : undefined);

interface Answer {
  digit: number | null;
  reason: string;
  confidence: number;
  /** The prediction set (empty when refused). */
  set: number[];
}

/** The answer shown in `selector` for the page's latest input (drawing, upload or clear). */
async function latestAnswer(page: Page, selector: string): Promise<Answer> {
  await page.waitForFunction((sel) => {
    const output = document.querySelector<HTMLElement>(sel);
    return output !== null && output.dataset.input === document.body.dataset.input;
  }, selector);
  return page.locator(selector).evaluate((output: HTMLElement) => ({
    digit: output.dataset.digit === '' ? null : Number(output.dataset.digit),
    reason: output.dataset.reason ?? '',
    confidence: Number(output.dataset.confidence || 'NaN'),
    set: (output.dataset.set ?? '').split(' ').filter(Boolean).map(Number),
  }));
}

/** The red channel's maximum over a canvas (ink is white, background black). */
async function brightestPixel(page: Page, selector: string): Promise<number> {
  return page.locator(selector).evaluate((canvas: HTMLCanvasElement) => {
    const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
    let max = 0;
    for (let i = 0; i < data.length; i += 4) max = Math.max(max, data[i]);
    return max;
  });
}

interface ShownLayer {
  layer: string;
  ink: number;
  sum: number;
}

/** The panel's figures once every one shows the page's latest input, from `source`. */
async function latestLayers(page: Page, source: 'server' | 'browser'): Promise<ShownLayer[]> {
  await page.waitForFunction((from) => {
    const figures = Array.from(document.querySelectorAll<HTMLElement>('#inside-layers figure'));
    return (
      figures.length > 1 &&
      figures.every((f) => f.dataset.input === document.body.dataset.input && f.dataset.source === from)
    );
  }, source);
  return page.locator('#inside-layers figure').evaluateAll((figures) =>
    figures.map((f) => ({
      layer: (f as HTMLElement).dataset.layer ?? '',
      ink: Number((f as HTMLElement).dataset.ink),
      sum: Number((f as HTMLElement).dataset.sum),
    })),
  );
}

async function setBrowserMode(page: Page, on: boolean): Promise<void> {
  if ((await page.locator('#browser-mode').isChecked()) !== on) await page.click('#browser-mode');
  if (on) await page.waitForFunction(() => document.body.dataset.browserModel === 'ready');
}

async function chartProbabilities(page: Page): Promise<number[]> {
  return page
    .locator('#chart li')
    .evaluateAll((items) => items.map((item) => Number((item as HTMLElement).dataset.probability)));
}

describe('the draw-a-digit page', { skip }, () => {
  let server: RunningServer;
  let browser: Browser;
  let page: Page;
  let pageDir: string;
  /** The quick run with its calibration temperature fitted: the in-browser mode must apply it as the server does. */
  let calibrated: Awaited<ReturnType<typeof calibratedRun>>;
  const problems: string[] = [];
  const foreignRequests: string[] = [];
  /** Every request that asked for the layers (`?layers=1`). */
  const layerRequests: string[] = [];
  let contentSecurityPolicy = '';

  before(async () => {
    pageDir = await mkdtemp(join(tmpdir(), 'mnist-page-'));
    execFileSync(process.execPath, ['scripts/build-page.mjs', '--out', join(pageDir, 'page')], { stdio: 'pipe' });
    calibrated = await calibratedRun(await quickRunDir());
    server = await startServer({ runDir: calibrated.dir, host: '127.0.0.1', port: 0, pageDir: join(pageDir, 'page') });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: DESKTOP });
    page.setDefaultTimeout(60_000);
    recordProblems(page, problems);
    page.on('request', (request) => {
      if (!request.url().startsWith(server.url) && !request.url().startsWith('data:'))
        foreignRequests.push(request.url());
      if (new URL(request.url()).searchParams.get('layers') === '1')
        layerRequests.push(`${request.method()} ${request.url().slice(server.url.length)}`);
    });
    // Every Content-Security-Policy violation, reported or not, is collected in the page.
    await page.addInitScript(() => {
      const seen: string[] = [];
      (window as unknown as { cspViolations: string[] }).cspViolations = seen;
      document.addEventListener('securitypolicyviolation', (event) =>
        seen.push(`${event.violatedDirective} ${event.blockedURI} ${event.sourceFile}`),
      );
    });
    const response = await page.goto(server.url + '/');
    contentSecurityPolicy = (await response?.allHeaders())?.['content-security-policy'] ?? '';
    await page.waitForFunction(() => document.body.dataset.state === 'ready');
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    await calibrated?.remove();
    if (pageDir) await rm(pageDir, { recursive: true, force: true });
  });

  test('loads with the model description and an empty chart of ten digits', async () => {
    const info = await page.locator('#model-info').textContent();
    assert.match(info ?? '', /^Model: default, .* parameters, /);
    assert.deepEqual(await page.locator('#chart .label').allTextContents(), [
      '0',
      '1',
      '2',
      '3',
      '4',
      '5',
      '6',
      '7',
      '8',
      '9',
    ]);
    assert.deepEqual(await chartProbabilities(page), new Array(10).fill(0));
  });

  test('a drawn "1" (one vertical stroke) is read as 1', async () => {
    await page.click('#clear');
    await drawStrokes(page, ONE);
    const answer = await latestAnswer(page, '#digit');
    assert.equal(answer.digit, 1, `read as ${answer.digit} (${answer.reason})`);
    assert.equal(await page.locator('#digit').textContent(), '1');
    const probabilities = await chartProbabilities(page);
    assert.equal(probabilities.indexOf(Math.max(...probabilities)), 1);
    assert.ok(
      Math.abs(probabilities.reduce((a, b) => a + b, 0) - 1) < 1e-3,
      `the bars sum to ${probabilities.reduce((a, b) => a + b, 0)}`,
    );
  });

  test('a drawn "7" (a top bar, then a diagonal down-left) is read as 7, and the preview shows the ink', async () => {
    await page.click('#clear');
    await drawStrokes(page, SEVEN);
    const answer = await latestAnswer(page, '#digit');
    assert.equal(answer.digit, 7, `read as ${answer.digit} (${answer.reason})`);
    // The 28x28 preview holds the centred digit: ink near the centre, black corners.
    const preview = await page.locator('#preview').evaluate((canvas: HTMLCanvasElement) => {
      const data = canvas.getContext('2d')!.getImageData(0, 0, 28, 28).data;
      let ink = 0;
      for (let i = 0; i < data.length; i += 4) ink += data[i] > 128 ? 1 : 0;
      return { ink, corner: data[0] };
    });
    assert.ok(preview.ink > 20, `the preview has only ${preview.ink} bright pixels`);
    assert.equal(preview.corner, 0);
  });

  test('a "4" drawn in two strokes: every bar is painted as tall as its probability, the nine near 0% flat', async () => {
    await page.click('#clear');
    await drawStrokes(page, FOUR);
    const answer = await latestAnswer(page, '#digit');
    assert.equal(answer.digit, 4, `read as ${answer.digit} (${answer.reason})`);
    for (const bar of await paintedBars(page)) {
      assert.ok(
        Math.abs(bar.painted - bar.expected) <= 2,
        `digit ${bar.digit} at ${(bar.probability * 100).toFixed(1)}%: ${bar.painted} px painted, ${bar.expected.toFixed(1)} px expected`,
      );
    }
  });

  test('predictions arrive while the stroke is still being drawn', async () => {
    await page.click('#clear');
    const cleared = Number(await page.evaluate(() => document.body.dataset.input));
    const box = (await page.locator('#pad').boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height * 0.2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width / 2, box.y + box.height * 0.8, { steps: 10 });
    // The button is still down: an answer about a newer input than the cleared pad must come anyway.
    await page.waitForFunction((id) => Number(document.getElementById('digit')?.dataset.input) > id, cleared);
    await page.mouse.up();
    assert.equal((await latestAnswer(page, '#digit')).digit, 1);
  });

  test('an uploaded PNG (dark type on white) is read through the same preprocessing', async () => {
    // 3 and 5: the typed digits that even the quick, one-epoch test model reads with > 95%.
    const png = await digitPng(3);
    await page.setInputFiles('#file', { name: 'three.png', mimeType: 'image/png', buffer: png });
    const answer = await latestAnswer(page, '#digit');
    assert.equal(answer.digit, 3, `read as ${answer.digit} (${answer.reason})`);
    assert.match((await page.locator('#status').textContent()) ?? '', /three\.png/);
    await page.screenshot({ path: screenshotPath('mnist-page-upload.png'), animations: 'disabled' });
  });

  test('an image dropped on the drawing area is read too', async () => {
    const png = await digitPng(5);
    const transfer = await page.evaluateHandle((base64) => {
      const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
      const data = new DataTransfer();
      data.items.add(new File([bytes], 'five.png', { type: 'image/png' }));
      return data;
    }, png.toString('base64'));
    await page.locator('#drop-zone').dispatchEvent('drop', { dataTransfer: transfer });
    const answer = await latestAnswer(page, '#digit');
    assert.equal(answer.digit, 5, `read as ${answer.digit} (${answer.reason})`);
  });

  test('a file that is not an image gets a clear message, not a digit', async () => {
    const before = await page.evaluate(() => document.body.dataset.input);
    await page.setInputFiles('#file', {
      name: 'notes.txt',
      mimeType: 'text/plain',
      buffer: Buffer.from('not a picture'),
    });
    await page.waitForFunction(() => document.getElementById('status')?.classList.contains('error'));
    assert.match((await page.locator('#status').textContent()) ?? '', /notes\.txt is not an image/);
    assert.equal(
      await page.evaluate(() => document.body.dataset.input),
      before,
      'a failed upload must not count as a new input',
    );
  });

  test('the in-browser model, switched on from the keyboard, agrees with the server', async () => {
    await page.click('#clear');
    await drawStrokes(page, SEVEN);
    const server = await latestAnswer(page, '#digit');
    // Keyboard-reachable: Tab from the Clear button reaches the toggle, Space switches it on.
    await page.focus('#clear');
    for (let i = 0; i < 5 && !(await page.evaluate(() => document.activeElement?.id === 'browser-mode')); i++)
      await page.keyboard.press('Tab');
    assert.equal(
      await page.evaluate(() => document.activeElement?.id),
      'browser-mode',
      'Tab does not reach the in-browser toggle',
    );
    await page.keyboard.press('Space');
    await page.waitForFunction(
      () => document.body.dataset.browserModel === 'ready' || document.body.dataset.browserModel === 'error',
    );
    assert.equal(
      await page.evaluate(() => document.body.dataset.browserModel),
      'ready',
      (await page.locator('#status').textContent()) ?? '',
    );
    const local = await latestAnswer(page, '#browser-digit');
    assert.equal(local.digit, server.digit);
    // Calibrated alike: the served temperature is not 1, so a page that ignored it would differ.
    assert.ok(
      Math.abs(calibrated.temperature - 1) > 0.02 &&
        (await (await fetch(`${new URL(page.url()).origin}/v1/model`)).json()).temperature === calibrated.temperature,
    );
    assert.ok(
      Math.abs(local.confidence - server.confidence) < 1e-3,
      `browser ${local.confidence} vs server ${server.confidence}`,
    );
    assert.match(
      (await page.locator('#compare').textContent()) ?? '',
      /server: 7 \(\d+(\.\d)?%\)\s*· browser: 7 \(\d+(\.\d)?%\)/,
    );

    // While on, a new drawing is answered by both.
    await page.click('#clear');
    await drawStrokes(page, ONE);
    const [serverOne, localOne] = [await latestAnswer(page, '#digit'), await latestAnswer(page, '#browser-digit')];
    assert.equal(serverOne.digit, 1);
    assert.equal(localOne.digit, 1);
    assert.ok(Math.abs(localOne.confidence - serverOne.confidence) < 1e-3);
    await page.screenshot({ path: screenshotPath('mnist-page-desktop.png'), animations: 'disabled' });
  });

  test('Clear empties the pad, the prediction, the chart and the preview', async () => {
    await page.click('#clear');
    const answer = await latestAnswer(page, '#digit');
    assert.equal(answer.digit, null);
    assert.equal(await page.locator('#digit').textContent(), '–');
    assert.deepEqual(await chartProbabilities(page), new Array(10).fill(0));
    const brightest = { pad: await brightestPixel(page, '#pad'), preview: await brightestPixel(page, '#preview') };
    assert.deepEqual(brightest, { pad: 0, preview: 0 });
  });

  test('desktop: the pad and the chart sit side by side', async () => {
    const pad = await page.locator('#pad').boundingBox();
    const chart = await page.locator('#chart').boundingBox();
    assert.ok(pad && chart);
    assert.ok(chart.x >= pad.x + pad.width, `chart at x=${chart.x}, pad ends at x=${pad.x + pad.width}`);
  });

  test('phone (375 px): no sideways scrolling, the chart below the pad, drawing still works', async () => {
    await page.setViewportSize(PHONE);
    await page.click('#clear');
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= PHONE.width, `the page is ${width} px wide on a ${PHONE.width} px screen`);
    const pad = await page.locator('#pad').boundingBox();
    const chart = await page.locator('#chart').boundingBox();
    assert.ok(pad && chart);
    assert.ok(chart.y >= pad.y + pad.height, `chart at y=${chart.y}, pad ends at y=${pad.y + pad.height}`);
    await drawStrokes(page, ONE);
    assert.equal((await latestAnswer(page, '#digit')).digit, 1);
    await page.screenshot({ path: screenshotPath('mnist-page-phone.png'), fullPage: true, animations: 'disabled' });
  });

  test('"Inside the network" is closed by default and cost nothing so far: no layers asked for, no panel built', async () => {
    assert.equal(await page.locator('#inside').evaluate((details: HTMLDetailsElement) => details.open), false);
    assert.ok(
      (await page.evaluate(() => Number(document.body.dataset.input))) > 5,
      'the tests before drew and uploaded',
    );
    assert.deepEqual(layerRequests, []);
    assert.equal(await page.locator('#inside-layers figure').count(), 0);
  });

  test('open, answered by the server: drawing a 7 updates the maps of every layer', async () => {
    await setBrowserMode(page, false);
    await page.click('#inside summary');
    await page.click('#clear');
    await drawStrokes(page, ONE);
    const one = await latestLayers(page, 'server');
    await page.click('#clear');
    await drawStrokes(page, SEVEN);
    assert.equal((await latestAnswer(page, '#digit')).digit, 7);
    const seven = await latestLayers(page, 'server');
    // The input, then each convolution and the dense layer (conv 1, conv 2, dense 1 for the default network).
    assert.deepEqual(
      seven.map((l) => l.layer),
      one.map((l) => l.layer),
    );
    assert.equal(seven[0].layer, 'input');
    assert.equal(seven.length, 4);
    assert.deepEqual(await page.locator('#inside-layers figure b').allTextContents(), [
      'input',
      'conv 1',
      'conv 2',
      'dense 1',
    ]);
    for (const [k, layer] of seven.entries()) {
      assert.ok(layer.ink > 0, `${layer.layer} shows nothing`);
      assert.notEqual(layer.sum, one[k].sum, `${layer.layer}: the same maps for a 1 and a 7`);
    }
    assert.ok(
      layerRequests.length > 0 && layerRequests.every((r) => r === 'POST /v1/predict?layers=1'),
      layerRequests.join(', '),
    );
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    const viewport = page.viewportSize()!.width;
    assert.ok(width <= viewport, `the open panel makes the page ${width} px wide on a ${viewport} px screen`);
    await page
      .locator('#inside')
      .screenshot({ path: screenshotPath('mnist-page-inside-server.png'), animations: 'disabled' });
  });

  test("open, with the model in the browser: drawing a 7 updates every layer from the page's own model, as the server showed it, asking the server for no layers", async () => {
    await page.setViewportSize(DESKTOP);
    await page.click('#clear');
    await drawStrokes(page, SEVEN);
    const server = await latestLayers(page, 'server');
    const asked = layerRequests.length;
    await setBrowserMode(page, true);
    const switched = await latestLayers(page, 'browser');
    await page.click('#clear');
    await drawStrokes(page, ONE);
    const one = await latestLayers(page, 'browser');
    await page.click('#clear');
    await drawStrokes(page, SEVEN);
    assert.equal((await latestAnswer(page, '#browser-digit')).digit, 7);
    const local = await latestLayers(page, 'browser');
    assert.deepEqual(
      local.map((l) => l.layer),
      server.map((l) => l.layer),
    );
    for (const [k, layer] of local.entries()) {
      assert.ok(layer.ink > 0, `${layer.layer} shows nothing`);
      assert.notEqual(layer.sum, one[k].sum, `${layer.layer}: the same maps for a 1 and a 7`);
      // The same drawing, the same views: the cpu backend here and wasm there differ in rounding only.
      assert.ok(
        Math.abs(layer.sum - server[k].sum) <= 0.01 * server[k].sum + 2,
        `${layer.layer}: browser ${layer.sum}, server ${server[k].sum}`,
      );
      assert.ok(Math.abs(switched[k].sum - server[k].sum) <= 0.01 * server[k].sum + 2);
    }
    assert.equal(layerRequests.length, asked, 'the in-browser mode computes the layers itself');
    await page
      .locator('#inside')
      .screenshot({ path: screenshotPath('mnist-page-inside-browser.png'), animations: 'disabled' });
  });

  test('closed again: drawing asks for no layers', async () => {
    await setBrowserMode(page, false);
    await page.click('#inside summary');
    assert.equal(await page.locator('#inside').evaluate((details: HTMLDetailsElement) => details.open), false);
    const asked = layerRequests.length;
    await page.click('#clear');
    await drawStrokes(page, SEVEN);
    assert.equal((await latestAnswer(page, '#digit')).digit, 7);
    assert.equal(layerRequests.length, asked);
  });

  test('works offline: every request went to the server, and nothing failed', () => {
    assert.deepEqual(foreignRequests, []);
    assert.deepEqual(problems, []);
  });

  test("everything above, the in-browser model included, ran under the server's strict Content-Security-Policy", async () => {
    assert.match(contentSecurityPolicy, /script-src 'self';/);
    assert.match(contentSecurityPolicy, /frame-ancestors 'none'/);
    assert.doesNotMatch(contentSecurityPolicy, /unsafe-eval|unsafe-inline/);
    // The one refusal: long.js (TensorFlow.js's 64-bit integers) tries to compile a tiny
    // WebAssembly multiplier, in a try, and falls back to plain JavaScript; no wasm is allowed.
    const violations = await page.evaluate(() => (window as unknown as { cspViolations: string[] }).cspViolations);
    for (const violation of violations)
      assert.match(violation, /^script-src wasm-eval http:\/\/127\.0\.0\.1:\d+\/page\/chunk-\w+\.js$/);
  });
});

/** The page served with `runDir`'s model in Chromium, for a describe block: its page, the errors it raised, and a close. */
async function openPage(runDir: string): Promise<{ page: Page; problems: string[]; close: () => Promise<void> }> {
  const pageDir = await mkdtemp(join(tmpdir(), 'mnist-page-'));
  const problems: string[] = [];
  let server: RunningServer | undefined;
  let browser: Browser | undefined;
  const close = async () => {
    await browser?.close();
    await server?.close();
    await rm(pageDir, { recursive: true, force: true });
  };
  try {
    execFileSync(process.execPath, ['scripts/build-page.mjs', '--out', join(pageDir, 'page')], { stdio: 'pipe' });
    server = await startServer({ runDir, host: '127.0.0.1', port: 0, pageDir: join(pageDir, 'page') });
    browser = await launchChromium();
    const page = await browser.newPage({ viewport: DESKTOP });
    page.setDefaultTimeout(60_000);
    recordProblems(page, problems);
    await page.goto(server.url + '/');
    await page.waitForFunction(() => document.body.dataset.state === 'ready');
    return { page, problems, close };
  } catch (err) {
    await close();
    throw err;
  }
}

describe('the draw-a-digit page with a run trained to say "not a digit"', { skip }, () => {
  let page: Page;
  let problems: string[];
  let close: (() => Promise<void>) | undefined;

  before(async () => {
    ({ page, problems, close } = await openPage(await nonDigitRunDir()));
  });

  after(async () => {
    await close?.();
  });

  test('a drawn dot is "not a digit", with the reason, on the server and in the browser; a drawn 7 is still a 7', async () => {
    // A tap: the pad draws one dot of the brush's width, which preprocessing blows up to fill the 20x20 box.
    await drawStrokes(page, [[[140, 140]]]);
    const served = await latestAnswer(page, '#digit');
    assert.equal(served.digit, null, `the dot was read as ${served.digit}`);
    assert.match(served.reason, /^not a digit \(not-a-digit [\d.]+, best digit [\d.]+: margin -?[\d.]+ < -?[\d.]+\)$/);
    assert.match(
      (await page.locator('#confidence').textContent()) ?? '',
      /^Not a digit: it looks like none of the ten digits/,
    );
    assert.equal(await page.locator('#digit').textContent(), 'not a digit');
    await setBrowserMode(page, true);
    await page.click('#clear');
    await drawStrokes(page, [[[100, 160]]]);
    const inBrowser = await latestAnswer(page, '#browser-digit');
    assert.equal(inBrowser.digit, null);
    assert.match(inBrowser.reason, /^not a digit/);
    await page.click('#clear');
    await drawStrokes(page, SEVEN);
    assert.equal((await latestAnswer(page, '#digit')).digit, 7);
    assert.equal((await latestAnswer(page, '#browser-digit')).digit, 7);
    assert.deepEqual(problems, []);
  });
});

describe('the draw-a-digit page with the shipped model (models/default)', { skip }, () => {
  let page: Page;
  let problems: string[];
  let close: (() => Promise<void>) | undefined;

  before(async () => {
    ({ page, problems, close } = await openPage(shippedModelDir()));
  });

  after(async () => {
    await close?.();
  });

  test('a zigzag scribble (five strokes back and forth) is "not a digit", on the server and in the browser', async () => {
    await drawStrokes(page, ZIGZAG);
    const served = await latestAnswer(page, '#digit');
    assert.equal(served.digit, null, `the zigzag was read as ${served.digit} (${served.confidence})`);
    assert.match(served.reason, /^not a digit \(not-a-digit/);
    assert.deepEqual(served.set, []);
    assert.equal(await page.locator('#digit').textContent(), 'not a digit');
    await setBrowserMode(page, true);
    await page.click('#clear');
    await drawStrokes(page, ZIGZAG);
    assert.equal((await latestAnswer(page, '#browser-digit')).digit, null);
    await setBrowserMode(page, false);
    assert.deepEqual(problems, []);
  });

  test('a drawing between 4 and 9 shows its prediction set ("9, 4 or 7"), the in-browser model the same one; a clear 7 shows the 7 alone', async () => {
    await setBrowserMode(page, true);
    await page.click('#clear');
    await drawStrokes(page, FOUR_OR_NINE);
    const served = await latestAnswer(page, '#digit');
    assert.notEqual(served.digit, null, `refused: ${served.reason}`);
    assert.ok(served.set.includes(4) && served.set.includes(9), `set ${served.set.join(' ')}`);
    assert.equal(served.set[0], served.digit);
    const inWords = `${served.set.slice(0, -1).join(', ')} or ${served.set[served.set.length - 1]}`;
    assert.equal(await page.locator('#digit').textContent(), inWords);
    assert.match(
      (await page.locator('#confidence').textContent()) ?? '',
      new RegExp(`^Unsure: ${inWords} \\(most likely ${served.digit}, [\\d.]+% sure\\)\\.$`),
    );
    const inBrowser = await latestAnswer(page, '#browser-digit');
    assert.deepEqual(inBrowser.set, served.set);
    assert.ok((await page.locator('#browser-digit').textContent())?.startsWith(`${inWords} (`));
    await page.click('#clear');
    await drawStrokes(page, SEVEN);
    const seven = await latestAnswer(page, '#digit');
    assert.deepEqual([seven.digit, seven.set], [7, [7]]);
    assert.equal(await page.locator('#digit').textContent(), '7');
    assert.deepEqual(problems, []);
  });
});

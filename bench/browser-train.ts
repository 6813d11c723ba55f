/**
 * The Train panel in Chromium (`npm run bench -- --only browserTrain`): `mnist-cnn serve`'s page
 * (cross-origin isolated: two workers) in Debian's Chromium, driven by playwright-core, against
 * Node training the same net in this process. Timings live here, never in tests.
 *
 *   throughput   training images/s of the same recipe in the tab and in Node (bench.ts
 *                `trainImagesPerSecond`: steps 5 to 35 of one run), interleaved tab, Node, tab,
 *                Node... ROUNDS times, for the compact net (`--preset fast`) and the default net
 *                (the defaults): the machine may be shared, so each round's ratio counts, and
 *                the load average is recorded before and after.
 *   timeTo99     a fresh browser (nothing cached): from pressing Train to the first quarter-epoch
 *                check at 99.0% test accuracy or more, compact net with the fast recipe, as
 *                bench/time-to-99.ts does in Node (its checks on ONNX Runtime, these on the
 *                training workers); the data download and the start of the workers included.
 *                Then bench/time-to-99.ts itself, for Node's time under the same load.
 *   responsive   in a fresh tab, a digit is drawn over and over with the mouse (and read by the
 *                server's model), first with nothing training, then while the tab trains, as long
 *                each: the input delay of every pointer event (from the event's timestamp to its
 *                first handler) and the time from lifting the pen to the answer. The first is
 *                what the machine's load alone costs; the difference is the training's.
 *
 * BENCH_BROWSER_SCREENSHOT=FILE saves a picture of the page mid-training there (after the first
 * test check: a drawn 7 read, the curves, filters and feature maps): docs/img/browser-training.png.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { startServer } from '../src/serve/server.js';
import { resolveConfig } from '../src/train/config-file.js';
import type { TrainConfig } from '../src/train/config.js';
import { launchChromium } from '../test/helpers/chromium.js';
import { drawStrokes, SEVEN } from '../test/helpers/page-drawing.js';
import type { BrowserTrainFigures } from './browser-train-table.js';
import { loadAverage, median } from './runtimes.js';

const ROUNDS = 3;
/** Steps before the measured ones, and measured, as bench.ts's `train` part. */
const WARM_UP = 5;
const MEASURED = 30;
const TARGET = 0.99;
/** Longest a time-to-99% run may take before it is given up. */
const CAP_SECONDS = Number(process.env.BENCH_TIME_TO_99_CAP ?? 300);
/** How long the tab trains while a digit is drawn over and over. */
const RESPONSIVE_SECONDS = 20;

/** The recipe the tab's time to 99% and drawing runs train: `--preset fast` (60,000 images, no validation split). */
const FAST = resolveConfig({ preset: 'fast' });
const STEPS_PER_EPOCH = Math.ceil(60_000 / FAST.batchSize);

const log = (message: string) => process.stderr.write(`bench: browserTrain: ${message}\n`);
const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
};
const round = (x: number, digits = 1) => +x.toFixed(digits);

/** Node's images/s for a recipe: bench.ts's `train` part, handed in. */
type NodeImagesPerSecond = (config: TrainConfig) => Promise<number>;

/** Records, in the page, every pointer event's input delay and the time from lifting the pen to the answer. */
function recordInputs(): void {
  const record = { delays: [] as number[], reads: [] as number[] };
  (window as unknown as { inputs: typeof record }).inputs = record;
  let liftedAt = 0;
  for (const type of ['pointerdown', 'pointermove', 'pointerup']) {
    addEventListener(
      type,
      (event) => {
        record.delays.push(performance.now() - event.timeStamp);
        // (The pen lifted off the pad; not a click on Clear.)
        if (type === 'pointerup' && (event.target as Element | null)?.id === 'pad') liftedAt = event.timeStamp;
      },
      { capture: true },
    );
  }
  addEventListener('DOMContentLoaded', () => {
    const digit = document.getElementById('digit')!;
    new MutationObserver(() => {
      if (liftedAt > 0 && digit.dataset.input === document.body.dataset.input) {
        record.reads.push(performance.now() - liftedAt);
        liftedAt = 0;
      }
    }).observe(digit, { attributes: true, attributeFilter: ['data-input'] });
  });
}

async function openPage(browser: Browser, url: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
  page.setDefaultTimeout(CAP_SECONDS * 1000);
  page.on('pageerror', (err) => log(`page error: ${err.message}`));
  await page.addInitScript(recordInputs);
  await page.goto(url);
  await page.waitForFunction(() => document.body.dataset.state === 'ready');
  return page;
}

/** The step the panel shows and when it ended (seconds since training began, the worker's clock). */
async function stepAtLeast(page: Page, step: number): Promise<{ step: number; elapsed: number }> {
  await page.waitForFunction((at) => Number(document.getElementById('train-progress')!.dataset.step) >= at, step, {
    polling: 10,
  });
  return page.evaluate(() => {
    const data = document.getElementById('train-progress')!.dataset;
    return { step: Number(data.step), elapsed: Number(data.elapsed) };
  });
}

async function startTraining(page: Page, arch: string): Promise<void> {
  await page.selectOption('#train-arch', arch);
  await page.click('#train');
}

async function stopTraining(page: Page): Promise<void> {
  await page.click('#train-stop');
  await page.waitForFunction(() => ['done', 'error'].includes(document.getElementById('training')!.dataset.state!));
  const state = await page.locator('#training').getAttribute('data-state');
  if (state !== 'done')
    throw new Error(`the Train panel ended in state ${state}: ${await page.locator('#train-status').textContent()}`);
}

/** Images/s of steps WARM_UP to WARM_UP + MEASURED of one run in the tab. */
async function tabImagesPerSecond(page: Page, arch: string, batchSize: number): Promise<number> {
  await startTraining(page, arch);
  const first = await stepAtLeast(page, WARM_UP);
  const last = await stepAtLeast(page, WARM_UP + MEASURED);
  await stopTraining(page);
  return Math.round(((last.step - first.step) * batchSize) / (last.elapsed - first.elapsed));
}

async function throughput(
  page: Page,
  nodeImagesPerSecond: NodeImagesPerSecond,
): Promise<BrowserTrainFigures['throughput']> {
  const figures: BrowserTrainFigures['throughput'] = {};
  for (const [arch, preset] of [
    ['compact', 'fast'],
    ['default', 'default'],
  ] as const) {
    const config = resolveConfig({ preset });
    const tab: number[] = [];
    const node: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      // Alternating which goes first, so that a change of load falls on both alike.
      const both = [
        async () => tab.push(await tabImagesPerSecond(page, arch, config.batchSize)),
        async () => node.push(await nodeImagesPerSecond(config)),
      ];
      for (const measure of r % 2 ? both.reverse() : both) await measure();
      log(`${arch}: round ${r + 1}: tab ${tab[r]}, Node ${node[r]} images/s`);
    }
    const ratios = tab.map((t, i) => round(t / node[i], 3));
    figures[arch] = {
      tab,
      node,
      ratios,
      medianRatio: median(ratios),
      tabMedian: median(tab),
      nodeMedian: median(node),
      load: loadAverage(),
    };
  }
  return figures;
}

async function timeTo99(browser: Browser, url: string): Promise<BrowserTrainFigures['timeTo99']> {
  // A browser context of its own: no cached data, no compiled wasm.
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(CAP_SECONDS * 1000);
  await page.goto(url);
  await page.waitForFunction(() => document.body.dataset.state === 'ready');
  const pressed = Date.now();
  await startTraining(page, 'compact');
  const started = await stepAtLeast(page, 1);
  const startSeconds = (Date.now() - pressed) / 1000 - started.elapsed;
  const checks: BrowserTrainFigures['timeTo99']['checks'] = [];
  let seconds: number | null = null;
  while (seconds === null) {
    const seen = checks.length;
    await page.waitForFunction(
      (n) =>
        document.getElementById('training')!.dataset.state === 'done' ||
        Number(document.getElementById('train-accuracy-chart')!.dataset.testPoints) > n,
      seen,
      { polling: 20 },
    );
    const at = (Date.now() - pressed) / 1000;
    const shown = await page.evaluate(() => ({
      accuracy: Number(document.getElementById('train-accuracy')!.dataset.value),
      step: Number(document.getElementById('train-accuracy')!.dataset.step),
      state: document.getElementById('training')!.dataset.state,
    }));
    if (shown.state === 'done') break;
    checks.push({ epoch: round(shown.step / STEPS_PER_EPOCH, 3), accuracy: shown.accuracy, seconds: round(at) });
    log(
      `time to 99%: epoch ${checks.at(-1)!.epoch} test accuracy ${(shown.accuracy * 100).toFixed(2)}% at ${at.toFixed(1)} s`,
    );
    if (shown.accuracy >= TARGET) seconds = round(at);
    else if (at > CAP_SECONDS) break;
  }
  const imagesPerSecond = Number(await page.locator('#train-speed').getAttribute('data-value'));
  const threads = Number(await page.locator('#train-threads').getAttribute('data-value'));
  if ((await page.locator('#training').getAttribute('data-state')) !== 'done') await stopTraining(page);
  await context.close();
  return {
    seconds,
    checks,
    threads,
    startSeconds: round(startSeconds),
    imagesPerSecond: Math.round(imagesPerSecond),
    load: loadAverage(),
  };
}

/** bench/time-to-99.ts in a child process (from its process start, as `npm run bench -- --only timeTo99`). */
function nodeTimeTo99(): number | null {
  const child = spawnSync(process.execPath, ['--import', 'tsx', 'bench/time-to-99.ts'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (child.status !== 0) throw new Error(`bench/time-to-99.ts failed with exit code ${child.status}`);
  const lines = child.stdout.trim().split('\n');
  const seconds: number | null = JSON.parse(lines[lines.length - 1]).timeTo99Seconds;
  return seconds === null ? null : round(seconds);
}

interface Inputs {
  delays: number[];
  reads: number[];
}

/** Draw a 7 over and over for `seconds`, each one read before the next: the input delays and read times in the page meanwhile. */
async function drawFor(page: Page, seconds: number): Promise<Inputs> {
  await page.evaluate(() => {
    const inputs = (window as unknown as { inputs: Inputs }).inputs;
    inputs.delays.length = 0;
    inputs.reads.length = 0;
  });
  const until = Date.now() + seconds * 1000;
  while (Date.now() < until) {
    await page.click('#clear');
    await drawStrokes(page, SEVEN);
    await page.waitForFunction(
      () =>
        document.getElementById('digit')!.dataset.input === document.body.dataset.input &&
        document.getElementById('digit')!.dataset.confidence !== '',
    );
  }
  return page.evaluate(() => (window as unknown as { inputs: Inputs }).inputs);
}

function delayFigures({ delays, reads }: Inputs): BrowserTrainFigures['responsive']['idle'] {
  return {
    inputDelayP50Ms: round(quantile(delays, 0.5)),
    inputDelayP99Ms: round(quantile(delays, 0.99)),
    inputDelayMaxMs: round(Math.max(...delays)),
    events: delays.length,
    readP50Ms: round(quantile(reads, 0.5)),
    readP99Ms: round(quantile(reads, 0.99)),
    reads: reads.length,
  };
}

/**
 * In a fresh tab (the server's model reads the drawings): drawing while nothing trains, then
 * while the tab trains, for the same time each; and the screenshot, once the first test check
 * is on the curves.
 */
async function responsiveness(browser: Browser, url: string): Promise<BrowserTrainFigures['responsive']> {
  const page = await openPage(browser, url);
  const idle = delayFigures(await drawFor(page, RESPONSIVE_SECONDS));
  await startTraining(page, 'compact');
  const first = await stepAtLeast(page, WARM_UP);
  const training = delayFigures(await drawFor(page, RESPONSIVE_SECONDS));
  const last = await stepAtLeast(page, 0);
  const screenshot = process.env.BENCH_BROWSER_SCREENSHOT;
  if (screenshot) {
    await page.waitForFunction(() => document.getElementById('train-accuracy')!.dataset.value !== '');
    await page.click('#clear');
    await drawStrokes(page, SEVEN);
    await page.waitForFunction(() => document.getElementById('digit')!.dataset.input === document.body.dataset.input);
    await page.screenshot({ path: screenshot, animations: 'disabled' });
    log(`screenshot: ${screenshot}`);
  }
  await stopTraining(page);
  await page.close();
  return {
    idle,
    training,
    load: loadAverage(),
    stepsWhileDrawing: last.step - first.step,
    imagesPerSecondWhileDrawing: Math.round(
      ((last.step - first.step) * FAST.batchSize) / (last.elapsed - first.elapsed),
    ),
  };
}

/** The three measures, in one Chromium against one in-process server. */
export async function browserTrainFigures(
  root: string,
  nodeImagesPerSecond: NodeImagesPerSecond,
): Promise<{ browserTrain: BrowserTrainFigures }> {
  const before = loadAverage();
  execFileSync(process.execPath, ['scripts/build-page.mjs', '--out', join(root, 'page')], { stdio: 'pipe' });
  const server = await startServer({ host: '127.0.0.1', port: 0, pageDir: join(root, 'page') });
  const browser = await launchChromium();
  try {
    const url = `${server.url}/`;
    log('time to 99% in a fresh tab (compact net, fast recipe)');
    const to99 = await timeTo99(browser, url);
    log('time to 99% in Node (bench/time-to-99.ts), under the same load');
    to99.nodeSeconds = nodeTimeTo99();
    to99.nodeLoad = loadAverage();
    const page = await openPage(browser, url);
    log(`throughput, tab and Node interleaved, ${ROUNDS} rounds a net`);
    const rates = await throughput(page, nodeImagesPerSecond);
    await page.close();
    log(
      `responsiveness: drawing for ${RESPONSIVE_SECONDS} s with nothing training, then ${RESPONSIVE_SECONDS} s while the tab trains`,
    );
    const responsive = await responsiveness(browser, url);
    return {
      browserTrain: {
        machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, chromium: browser.version() },
        load: { before, after: loadAverage() },
        throughput: rates,
        timeTo99: to99,
        responsive,
      },
    };
  } finally {
    await browser.close();
    await server.close();
  }
}

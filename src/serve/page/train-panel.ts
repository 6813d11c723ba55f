/**
 * The Train panel: a network trained in this tab, on MNIST, with the project's own training
 * code (train/session.ts) in a worker (train-worker.ts): this module, on the page's main thread,
 * only starts it, says pause, resume and stop, and shows what it reports: the loss and accuracy
 * curves (train-chart.ts), images/s and the time left, the test accuracy of every quarter-epoch
 * check, the first convolution's filters and one test digit's feature maps. When training ends
 * (or is stopped), the page reads drawings with the model just trained (`useModel`), which can
 * be downloaded as a run folder's files and uploaded back (model-files.ts).
 *
 * Threads: the recipe's (two) where the page is cross-origin isolated (COOP and COEP headers:
 * `mnist-cnn serve` sends them), which SharedArrayBuffer needs; one otherwise (a static host
 * that does not send them), with the same code.
 *
 * Test hooks: #training[data-state] is idle, loading, training, paused, done or error;
 * #train-accuracy[data-value] the latest test accuracy (0..1) and [data-step] its step;
 * #train-progress[data-step] steps done and [data-elapsed] the seconds since training began when
 * that step ended; #train-speed[data-value] images/s; #train-threads
 * [data-value] workers; the charts' canvases their series (train-chart.ts); #train-filters
 * [data-step] and #train-maps[data-step] the step they show.
 */
import type { ModelMetadata } from '../../browser/answer.js';
import type { BrowserModel } from '../../browser/model.js';
import { describeShape, filterTiles, mapsImage, type RgbaImage } from '../../model/layer-views.js';
import type { Check, StepProgress } from '../../train/session.js';
import { element } from './elements.js';
import { drawPreview, drawRgba } from './picture.js';
import { downloadModel, handlerOf, readUploadedModel, type ModelFiles } from './model-files.js';
import { TrainChart } from './train-chart.js';
import {
  recipeConfig,
  TRAIN_RECIPES,
  type FromWorker,
  type ToWorker,
  type TrainArch,
  type TrainViews,
} from './train-protocol.js';

/** The package's version, built in by scripts/bundle.mjs. */
declare const MNIST_CNN_VERSION: string;

export interface TrainPanelHooks {
  /** From now on, read the drawings with this model (`label` says which it is). */
  useModel(model: BrowserModel, metadata: ModelMetadata, label: string): void;
}

type PanelState = 'idle' | 'loading' | 'training' | 'paused' | 'done' | 'error';

const percent = (p: number) => `${(p * 100).toFixed(2)}%`;

function seconds(s: number): string {
  if (!Number.isFinite(s)) return '–';
  const whole = Math.max(0, Math.round(s));
  return whole < 60 ? `${whole} s` : `${Math.floor(whole / 60)} min ${String(whole % 60).padStart(2, '0')} s`;
}

/** Tiles side by side, `columns` to a row, one transparent pixel apart. */
function grid(tiles: RgbaImage[], columns: number): RgbaImage {
  const { width: w, height: h } = tiles[0];
  const cols = Math.min(columns, tiles.length);
  const rows = Math.ceil(tiles.length / cols);
  const width = cols * (w + 1) - 1;
  const height = rows * (h + 1) - 1;
  const rgba = new Uint8ClampedArray(width * height * 4);
  tiles.forEach((tile, k) => {
    const left = (k % cols) * (w + 1);
    const top = Math.floor(k / cols) * (h + 1);
    for (let y = 0; y < h; y++)
      rgba.set(tile.rgba.subarray(y * w * 4, (y + 1) * w * 4), ((top + y) * width + left) * 4);
  });
  return { width, height, rgba };
}

export function wireTrainPanel(hooks: TrainPanelHooks): void {
  const ui = {
    section: element<HTMLElement>('training'),
    arch: element<HTMLSelectElement>('train-arch'),
    epochs: element<HTMLInputElement>('train-epochs'),
    train: element<HTMLButtonElement>('train'),
    pause: element<HTMLButtonElement>('train-pause'),
    stop: element<HTMLButtonElement>('train-stop'),
    status: element<HTMLParagraphElement>('train-status'),
    accuracy: element<HTMLOutputElement>('train-accuracy'),
    progress: element<HTMLElement>('train-progress'),
    speed: element<HTMLElement>('train-speed'),
    eta: element<HTMLElement>('train-eta'),
    threads: element<HTMLElement>('train-threads'),
    filters: element<HTMLCanvasElement>('train-filters'),
    filtersCaption: element<HTMLElement>('train-filters-caption'),
    maps: element<HTMLDivElement>('train-maps'),
    mapsCaption: element<HTMLElement>('train-maps-caption'),
    download: element<HTMLButtonElement>('train-download'),
    upload: element<HTMLInputElement>('train-upload'),
  };
  const charts = {
    loss: new TrainChart(element('train-loss-chart'), 'loss'),
    accuracy: new TrainChart(element('train-accuracy-chart'), 'accuracy'),
  };
  let worker: Worker | undefined;
  let arch: TrainArch = 'compact';
  let plan: Extract<FromWorker, { type: 'started' }> | undefined;
  let checks: Check[] = [];
  let files: ModelFiles | undefined;

  const setState = (state: PanelState) => {
    ui.section.dataset.state = state;
    const running = state === 'loading' || state === 'training' || state === 'paused';
    ui.train.disabled = running;
    ui.arch.disabled = running;
    ui.epochs.disabled = running;
    ui.pause.disabled = state !== 'training' && state !== 'paused';
    ui.pause.textContent = state === 'paused' ? 'Resume' : 'Pause';
    ui.stop.disabled = !running;
  };
  const setStatus = (text: string, isError = false) => {
    ui.status.textContent = text;
    ui.status.classList.toggle('error', isError);
  };
  const send = (message: ToWorker) => worker?.postMessage(message);
  const threadsHere = () => (globalThis.crossOriginIsolated ? recipeConfig(arch).threads : 1);
  const showThreads = (threads: number) => {
    ui.threads.dataset.value = String(threads);
    ui.threads.textContent = globalThis.crossOriginIsolated
      ? `${threads}`
      : `${threads} (this page is not cross-origin isolated: no shared memory between workers)`;
  };

  /** The recipe's epochs for the network chosen. */
  const showRecipe = () => {
    arch = ui.arch.value as TrainArch;
    ui.epochs.value = String(recipeConfig(arch).epochs);
    ui.arch.title = `recipe: the ${TRAIN_RECIPES[arch]} preset`;
  };

  function onStep(progress: StepProgress): void {
    charts.loss.add('train', progress.epoch, progress.loss);
    charts.accuracy.add('train', progress.epoch, progress.accuracy);
    ui.progress.dataset.step = String(progress.step);
    ui.progress.dataset.elapsed = String(progress.elapsedSeconds);
    ui.progress.textContent = `step ${progress.step} of ${progress.totalSteps} (epoch ${progress.epoch.toFixed(2)} of ${(progress.totalSteps / plan!.batchesPerEpoch).toFixed(0)})`;
    ui.speed.dataset.value = String(progress.imagesPerSecond);
    ui.speed.textContent = `${Math.round(progress.imagesPerSecond).toLocaleString('en-US')} images/s`;
    const left = progress.totalSteps - progress.step;
    const checksLeft = Math.ceil((left / plan!.batchesPerEpoch) * 4);
    const perCheck = checks.length ? checks.reduce((sum, c) => sum + c.seconds, 0) / checks.length : 0;
    ui.eta.textContent = seconds((left * progress.trainingSeconds) / progress.step + checksLeft * perCheck);
  }

  function onCheck(check: Check): void {
    checks.push(check);
    charts.loss.add('test', check.epoch, check.test.loss);
    charts.accuracy.add('test', check.epoch, check.test.accuracy);
    if (check.val) {
      charts.loss.add('val', check.epoch, check.val.loss);
      charts.accuracy.add('val', check.epoch, check.val.accuracy);
    }
    ui.accuracy.dataset.value = String(check.test.accuracy);
    ui.accuracy.dataset.step = String(check.step);
    ui.accuracy.textContent = `${percent(check.test.accuracy)} (epoch ${check.epoch.toFixed(2)})`;
  }

  function onViews(views: TrainViews): void {
    if (views.filters) {
      const { max, tiles } = filterTiles(views.filters.values, views.filters.shape);
      drawRgba(ui.filters, grid(tiles, 8));
      const [kh, kw, , count] = views.filters.shape;
      ui.filtersCaption.textContent = `The first convolution's ${count} filters (${kh}x${kw}) at step ${views.step}: red positive, blue negative weights (largest |w| ${max.toPrecision(2)})`;
      ui.filters.dataset.step = String(views.step);
    }
    const figures = views.maps.map((view) => {
      const figure = document.createElement('figure');
      const canvas = document.createElement('canvas');
      canvas.setAttribute('role', 'img');
      canvas.setAttribute('aria-label', `${view.label} feature maps`);
      drawRgba(canvas, mapsImage(view, { columns: 8 }));
      const caption = document.createElement('figcaption');
      caption.textContent = `${view.label}${view.after ? ` (${view.after})` : ''}: ${describeShape(view.shape)}${view.factor > 1 ? `, shown ${view.height}x${view.width}` : ''}`;
      figure.append(canvas, caption);
      return figure;
    });
    const digit = Object.assign(document.createElement('canvas'), { className: 'train-digit', width: 28, height: 28 });
    drawPreview(digit, views.digit.pixels, 28);
    ui.maps.replaceChildren(digit, ...figures);
    ui.maps.dataset.step = String(views.step);
    ui.mapsCaption.textContent = `Feature maps of one test digit (a ${views.digit.label}) at step ${views.step}: bright where a filter finds its pattern`;
  }

  async function onDone(done: Extract<FromWorker, { type: 'done' }>): Promise<void> {
    files = {
      modelJson: done.modelJson,
      weights: done.weights,
      metadata: done.metadata as unknown as ModelFiles['metadata'],
    };
    ui.download.disabled = false;
    const last = checks[checks.length - 1];
    const how = done.stopped
      ? `stopped at epoch ${last.epoch.toFixed(2)}`
      : `${done.metadata.epochsCompleted} epoch${done.metadata.epochsCompleted > 1 ? 's' : ''}`;
    await useFiles(files, `the ${done.metadata.arch} net trained in this tab (${how})`);
    setState('done');
    setStatus(
      `${done.stopped ? `Stopped at epoch ${last.epoch.toFixed(2)}` : `Trained for ${how}`}: test accuracy ${percent(last.test.accuracy)}, after ${seconds(done.metadata.trainingSeconds)} of training. Your drawings are now read by this model.`,
    );
  }

  /** Make the page read drawings with a model's files. */
  async function useFiles(model: ModelFiles, label: string): Promise<void> {
    const { loadBrowserModel } = await import('../../browser/model.js');
    hooks.useModel(await loadBrowserModel(handlerOf(model)), model.metadata, label);
  }

  function onMessage(message: FromWorker): void {
    switch (message.type) {
      case 'status': {
        const progress = message.data
          ? ` ${(message.data.loaded / 1e6).toFixed(0)} of ${(message.data.total / 1e6).toFixed(0)} MB`
          : '';
        setStatus(message.text + progress);
        break;
      }
      case 'started':
        plan = message;
        checks = [];
        charts.loss.reset(message.totalSteps / message.batchesPerEpoch);
        charts.accuracy.reset(message.totalSteps / message.batchesPerEpoch);
        showThreads(message.threads);
        setState('training');
        setStatus(
          `Training the ${arch} net (${(message.params / 1000).toFixed(0)} k parameters) on ${message.trainCount.toLocaleString('en-US')} images${message.valCount ? `, ${message.valCount.toLocaleString('en-US')} held out for validation` : ''}, batches of ${message.batchSize}.`,
        );
        break;
      case 'step':
        onStep(message.progress);
        break;
      case 'check':
        onCheck(message.check);
        break;
      case 'views':
        onViews(message.views);
        break;
      case 'done':
        onDone(message).catch((err: Error) => fail(`the trained model could not be loaded here: ${err.message}`));
        break;
      case 'error':
        fail(message.message);
        break;
    }
  }

  function fail(message: string): void {
    setState('error');
    setStatus(`Training failed: ${message}`, true);
  }

  function start(): void {
    const epochs = Number(ui.epochs.value);
    if (!(Number.isInteger(epochs) && epochs >= 1 && epochs <= 50)) {
      setStatus('Epochs must be a whole number from 1 to 50.', true);
      return;
    }
    if (!worker) {
      worker = new Worker(new URL('./train-worker.js', import.meta.url), {
        type: 'module',
        name: 'mnist-cnn training',
      });
      worker.onmessage = (event: MessageEvent<FromWorker>) => onMessage(event.data);
      worker.onerror = (event) => {
        event.preventDefault();
        worker?.terminate();
        worker = undefined;
        fail(event.message || 'the training worker did not start');
      };
    }
    ui.accuracy.dataset.value = '';
    ui.accuracy.textContent = '–';
    ui.progress.dataset.step = '0';
    ui.progress.dataset.elapsed = '';
    ui.speed.dataset.value = '';
    for (const output of [ui.progress, ui.speed, ui.eta]) output.textContent = '–';
    setState('loading');
    const threads = threadsHere();
    showThreads(threads);
    send({
      type: 'start',
      arch,
      epochs,
      threads,
      dataUrl: new URL('data/mnist/', document.baseURI).href,
      wasmUrl: new URL('./', import.meta.url).href,
      version: typeof MNIST_CNN_VERSION === 'string' ? MNIST_CNN_VERSION : 'unknown',
    });
  }

  ui.arch.addEventListener('change', showRecipe);
  ui.train.addEventListener('click', start);
  ui.pause.addEventListener('click', () => {
    const paused = ui.section.dataset.state === 'paused';
    send({ type: paused ? 'resume' : 'pause' });
    setState(paused ? 'training' : 'paused');
  });
  ui.stop.addEventListener('click', () => {
    send({ type: 'stop' });
    ui.stop.disabled = true;
    setStatus('Stopping after this step, then checking the model on the test set…');
  });
  ui.download.addEventListener('click', () => files && downloadModel(files));
  ui.upload.addEventListener('change', () => {
    const chosen = ui.upload.files;
    if (!chosen || chosen.length === 0) return;
    readUploadedModel(chosen)
      .then(async (model) => {
        files = model;
        ui.download.disabled = false;
        const accuracy = model.metadata.test ? `, test accuracy ${percent(model.metadata.test.accuracy)}` : '';
        await useFiles(model, `the uploaded ${model.metadata.arch} net`);
        setStatus(`Your drawings are now read by the uploaded model (${model.metadata.arch}${accuracy}).`);
      })
      .catch((err: Error) => setStatus(`That model cannot be used: ${err.message}`, true))
      .finally(() => (ui.upload.value = ''));
  });
  showRecipe();
  showThreads(threadsHere());
  setState('idle');
}

/**
 * The draw-a-digit page, in two modes:
 * - served (`mnist-cnn serve`): the picture (drawing or upload) goes through the project's one
 *   preprocessing (src/image/preprocess.ts) here in the browser; the server gets the resulting
 *   28x28 bytes as `{pixels}`, and the optional in-browser model gets the very same input, so
 *   the two answers can be compared;
 * - static (`npm run build:site`, body[data-model] names the model.json): no server at all, the
 *   model runs in this browser from the start and its answer is the page's.
 * In both, the in-browser model answers through the browser reader's code (src/browser/).
 *
 * Test hooks: body[data-state] is 'ready' once the page is set up (in the static mode, once the
 * model is loaded); body[data-input] numbers the latest input (drawing, upload or clear); #digit
 * shows the page's answer (its text: the digit, or "not a digit"), and it and each answer
 * <output> (#server-answer, #browser-digit) carry data-input (which input it answers),
 * data-digit ('' when none), data-reason, data-confidence and data-set (the prediction set, "4 9";
 * '' when refused). When the set holds more than one digit, #digit shows it ("4 or 9"). The "Inside the network" panel has
 * its own (layers-panel.ts).
 *
 * The panel, collapsed by default, costs nothing while closed: its code is a chunk fetched when
 * it first opens, and only while it is open do predictions ask the server for the layers
 * (`?layers=1`, on the same request) or the in-browser model compute them.
 */
import { answerWith, settingsOf, type AnswerSettings, type ModelMetadata } from '../../browser/answer.js';
import type { BrowserModel, ShownView } from '../../browser/model.js';
import { decodePicture, rawImageOfImageData } from '../../browser/pictures.js';
import { PREPROCESS_SPEC } from '../../data/model-input.js';
import { preprocessImage, type Preprocessed } from '../../image/preprocess.js';
import { DEFAULT_MIN_CONFIDENCE, setInWords, type AnswerRule, type Prediction } from '../../predict/interpret.js';
import { fetchModelInfo, predictOnServer, type ModelInfo, type ServerAnswer } from './api.js';
import type { LayersPanel, LayersSource } from './layers-panel.js';
import { createChart, formatPercent, updateChart } from './chart.js';
import { element } from './elements.js';
import { CorrectionsBar } from './corrections.js';
import { DrawingPad } from './pad.js';
import { drawPreview } from './picture.js';
import { wireTrainPanel } from './train-panel.js';

/** While a stroke is drawn, ask for a prediction at most this often (and always on pointer up). */
const PREDICT_EVERY_MS = 100;
const DEFAULT_CLASS_NAMES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
/** The static site's model.json (relative to the page): no server, the model runs here. */
const STATIC_MODEL = document.body.dataset.model;

const ui = {
  pad: element<HTMLCanvasElement>('pad'),
  dropZone: element<HTMLDivElement>('drop-zone'),
  clear: element<HTMLButtonElement>('clear'),
  file: element<HTMLInputElement>('file'),
  browserMode: element<HTMLInputElement>('browser-mode'),
  status: element<HTMLParagraphElement>('status'),
  modelInfo: element<HTMLParagraphElement>('model-info'),
  digit: element<HTMLOutputElement>('digit'),
  serverAnswer: element<HTMLOutputElement>('server-answer'),
  confidence: element<HTMLParagraphElement>('confidence'),
  compare: element<HTMLParagraphElement>('compare'),
  browserToggle: element<HTMLLabelElement>('browser-toggle'),
  browserPart: element<HTMLSpanElement>('browser-part'),
  browserDigit: element<HTMLOutputElement>('browser-digit'),
  chart: element<HTMLOListElement>('chart'),
  preview: element<HTMLCanvasElement>('preview'),
  inside: element<HTMLDetailsElement>('inside'),
  insideBody: element<HTMLDivElement>('inside-layers'),
};

const state = {
  info: null as ModelInfo | null,
  /** Numbers every input; an answer about an older input than the one shown is dropped. */
  inputId: 0,
  /** The input the main answer (#digit, the chart) shows. */
  shownId: 0,
  current: null as Preprocessed | null,
  /** The pad shows an uploaded picture: the next stroke starts on a clean pad. */
  padShowsPicture: false,
  lastPredictAt: 0,
  timer: undefined as ReturnType<typeof setTimeout> | undefined,
  browserModel: null as Promise<BrowserModel> | null,
  /** The static site's answer settings, from the run's metadata.json (the served page asks the server). */
  staticSettings: null as AnswerSettings | null,
  /** Which model answers when it is one of the Train panel's (trained in this tab, or uploaded); null: the page's own. */
  localModel: null as string | null,
  /** The "Inside the network" panel and its module, loaded when it first opens. */
  panel: null as Promise<{
    panel: LayersPanel;
    fromServer: (views: NonNullable<ServerAnswer['layers']>) => ShownView[];
  }> | null,
};

function setStatus(message: string, isError = false): void {
  ui.status.textContent = message;
  ui.status.classList.toggle('error', isError);
}

/** An answer whose prediction set holds more than one digit: the model is unsure between them. */
const unsure = (prediction: Prediction) => prediction.set.length > 1;

function describe(prediction: Prediction): string {
  if (prediction.digit !== null)
    return `${unsure(prediction) ? setInWords(prediction.set) : prediction.digit} (${formatPercent(prediction.confidence)})`;
  // The run's own rule already says 'not a digit (not-a-digit 0.93, best digit 0.05: margin -2.92 < 1.20)'.
  if (prediction.reason?.startsWith('not a digit')) return prediction.reason;
  return prediction.reason === 'blank' ? 'not a digit (blank)' : `not a digit (${prediction.reason ?? 'unsure'})`;
}

/** Why an answer is not a digit, in words for the page. */
function explainNotADigit({ reason, set }: Prediction): string {
  if (reason === 'blank') return 'Not a digit: nothing stands out from the background.';
  if (reason === 'too small') return 'Not a digit: the ink is too small for the picture (a dot?).';
  if (reason === 'no dominant stroke') return 'Not a digit: no single stroke stands out (text, scribbles, noise?).';
  // The run's fitted rule: 'not a digit (not-a-digit 0.93, best digit 0.05: margin -2.92 < 1.20)'.
  const fitted = /^not a digit \((.*)\)$/.exec(reason ?? '');
  if (fitted) return `Not a digit: it looks like none of the ten digits (${fitted[1]}).`;
  // Under the minimum confidence: the prediction set still says which digits it might be.
  if (reason?.startsWith('low confidence') && set.length > 1)
    return `Not sure enough to answer: ${setInWords(set)}? (${reason}).`;
  return `Not a digit: ${reason ?? 'the model is unsure'}.`;
}

function markAnswer(output: HTMLOutputElement, id: number, prediction: Prediction | null): void {
  output.dataset.input = String(id);
  output.dataset.digit = prediction?.digit === null || !prediction ? '' : String(prediction.digit);
  output.dataset.reason = prediction?.reason ?? '';
  output.dataset.confidence = prediction ? String(prediction.confidence) : '';
  output.dataset.set = prediction?.set.join(' ') ?? '';
}

// ---------------------------------------------------------------------------- showing answers

/** The page's answer for an input: the server's, or in the static site the in-browser model's. */
function showAnswer(id: number, prediction: Prediction): void {
  if (id < state.shownId) return;
  state.shownId = id;
  const isDigit = prediction.digit !== null;
  ui.digit.textContent = isDigit
    ? unsure(prediction)
      ? setInWords(prediction.set)
      : String(prediction.digit)
    : 'not a digit';
  ui.digit.classList.toggle('none', !isDigit);
  ui.digit.classList.toggle('unsure', isDigit && unsure(prediction));
  ui.confidence.textContent = !isDigit
    ? explainNotADigit(prediction)
    : unsure(prediction)
      ? `Unsure: ${setInWords(prediction.set)} (most likely ${prediction.digit}, ${formatPercent(prediction.confidence)} sure).`
      : `${formatPercent(prediction.confidence)} sure`;
  updateChart(
    ui.chart,
    prediction.reason === 'blank' ? null : prediction.probabilities,
    isDigit || prediction.reason?.startsWith('low confidence'),
  );
  markAnswer(ui.digit, id, prediction);
  corrections.offer();
}

function showServerAnswer(id: number, prediction: Prediction): void {
  if (id < state.shownId) return;
  showAnswer(id, prediction);
  ui.serverAnswer.textContent = describe(prediction);
  markAnswer(ui.serverAnswer, id, prediction);
}

function showEmpty(id: number): void {
  state.shownId = id;
  ui.digit.textContent = '–';
  ui.digit.classList.add('none');
  ui.confidence.textContent = 'Draw a digit to start.';
  ui.serverAnswer.textContent = '–';
  ui.browserDigit.textContent = '–';
  updateChart(ui.chart, null);
  drawPreview(ui.preview, new Uint8Array(spec().size ** 2), spec().size);
  markAnswer(ui.digit, id, null);
  markAnswer(ui.serverAnswer, id, null);
  markAnswer(ui.browserDigit, id, null);
}

/** The served model's preprocessing spec (the default until the model info arrives). */
const spec = () => state.info?.preprocessing ?? PREPROCESS_SPEC;

/**
 * How the in-browser model's answers are read: the run's metadata.json in the static site; in
 * the served page the server's own settings (its rule, threshold and temperature, GET
 * /v1/model), so that both answers are read alike.
 */
function browserSettings(): AnswerSettings {
  if (state.staticSettings) return state.staticSettings;
  const notADigitBelow = state.info?.notADigitBelow ?? undefined;
  const rule: AnswerRule = {
    minConfidence: state.info?.minConfidence ?? DEFAULT_MIN_CONFIDENCE,
    ...(notADigitBelow === undefined ? {} : { notADigitBelow }),
  };
  if (state.info?.sets) rule.sets = state.info.sets;
  return { spec: spec(), temperature: state.info?.temperature ?? 1, rule };
}

/** The in-browser model is the page's answer: in the static site, and once the Train panel gave a model. */
const answersHere = () => STATIC_MODEL !== undefined || state.localModel !== null;
/** The in-browser model is on: where it answers, or by the toggle in the served page. */
const browserOn = () => answersHere() || ui.browserMode.checked;

async function runInBrowser(id: number, input: Preprocessed): Promise<void> {
  if (!browserOn() || !state.browserModel) return;
  const model = await state.browserModel;
  // The input may have changed while the model was loading.
  if (id !== state.inputId || !browserOn()) return;
  const prediction = answerWith(model, browserSettings(), input);
  ui.browserDigit.textContent = describe(prediction);
  markAnswer(ui.browserDigit, id, prediction);
  if (answersHere()) showAnswer(id, prediction);
  if (ui.inside.open) await showLayers(id, 'browser', input, model.layers(input.input));
}

// ---------------------------------------------------------------------------- inside the network

function loadPanel(): NonNullable<typeof state.panel> {
  state.panel ??= import('./layers-panel.js').then((module) => ({
    panel: new module.LayersPanel(ui.insideBody),
    fromServer: module.fromServer,
  }));
  return state.panel;
}

async function showLayers(
  id: number,
  source: LayersSource,
  input: Preprocessed,
  views: ShownView[] | NonNullable<ServerAnswer['layers']>,
): Promise<void> {
  const { panel, fromServer } = await loadPanel();
  const shown = source === 'server' ? fromServer(views as NonNullable<ServerAnswer['layers']>) : (views as ShownView[]);
  panel.show(id, source, input.pixels, spec().size, shown);
}

/** The panel opened, or the mode changed while it is open: show the current input's layers. */
async function refreshLayers(): Promise<void> {
  if (!ui.inside.open) return;
  const { panel } = await loadPanel();
  const id = state.inputId;
  if (!state.current) return panel.clear(id);
  if (browserOn() && state.browserModel) await runInBrowser(id, state.current);
  else askServer(id, state.current);
}

// ---------------------------------------------------------------------------- predicting

/** A new input (drawing or picture): preview it, ask the server, and the browser model if on. */
function predict(input: Preprocessed): void {
  const id = ++state.inputId;
  document.body.dataset.input = String(id);
  state.current = input;
  drawPreview(ui.preview, input.pixels, spec().size);
  if (!answersHere()) askServer(id, input);
  runInBrowser(id, input).catch((err: Error) => setStatus(`in-browser model: ${err.message}`, true));
}

/** The server's answer for an input; with the layers when the panel is open and the model does not run here. */
function askServer(id: number, input: Preprocessed): void {
  const layers = ui.inside.open && !ui.browserMode.checked;
  predictOnServer(input.pixels, { layers })
    .then((prediction) => {
      showServerAnswer(id, prediction);
      if (prediction.layers) void showLayers(id, 'server', input, prediction.layers);
      // An answer arrived: an earlier failure (server down, say) is over.
      if (id === state.inputId && ui.status.classList.contains('error')) setStatus('');
    })
    .catch((err: Error) => setStatus(err.message, true));
}

function predictDrawing(): void {
  clearTimeout(state.timer);
  state.timer = undefined;
  state.lastPredictAt = performance.now();
  predict(preprocessImage(rawImageOfImageData(pad.imageData()), { spec: spec() }));
}

/** While drawing: at most one prediction per PREDICT_EVERY_MS, the last one with the latest ink. */
function predictDrawingSoon(): void {
  if (state.timer !== undefined) return;
  const wait = state.lastPredictAt + PREDICT_EVERY_MS - performance.now();
  if (wait <= 0) predictDrawing();
  else state.timer = setTimeout(predictDrawing, wait);
}

function clearAll(): void {
  clearTimeout(state.timer);
  state.timer = undefined;
  pad.clear();
  state.padShowsPicture = false;
  state.current = null;
  const id = ++state.inputId;
  document.body.dataset.input = String(id);
  showEmpty(id);
  corrections.hide();
  setStatus('');
  if (state.panel) void state.panel.then(({ panel }) => panel.clear(id));
}

async function predictFile(file: File): Promise<void> {
  setStatus(`Reading ${file.name}…`);
  try {
    const { bitmap, pixels } = await decodePicture(file);
    pad.showPicture(bitmap);
    bitmap.close();
    state.padShowsPicture = true;
    // The picture itself, not its copy on the pad: the preprocessing sees all of its pixels.
    predict(preprocessImage(rawImageOfImageData(pixels), { spec: spec() }));
    setStatus(`Showing ${file.name}.`);
  } catch (err) {
    setStatus((err as Error).message, true);
  }
}

// ---------------------------------------------------------------------------- in-browser mode

async function toggleBrowserMode(): Promise<void> {
  const on = ui.browserMode.checked;
  ui.browserPart.hidden = !on;
  if (!on) return void refreshLayers().catch((err: Error) => setStatus(err.message, true));
  if (!state.browserModel) {
    document.body.dataset.browserModel = 'loading';
    setStatus('Loading the model into this browser…');
    state.browserModel = import('../../browser/model.js').then((module) =>
      module.loadBrowserModel('/model/model.json'),
    );
    try {
      await state.browserModel;
      document.body.dataset.browserModel = 'ready';
      setStatus('The model also runs in this browser now.');
    } catch (err) {
      state.browserModel = null;
      document.body.dataset.browserModel = 'error';
      ui.browserMode.checked = false;
      ui.browserPart.hidden = true;
      setStatus(`Could not run the model in this browser: ${(err as Error).message}`, true);
      return;
    }
  }
  if (state.current) await runInBrowser(state.inputId, state.current);
  else markAnswer(ui.browserDigit, state.inputId, null);
}

// ---------------------------------------------------------------------------- model description

function describeModel(info: ModelInfo): string {
  const params = info.params >= 1e6 ? `${(info.params / 1e6).toFixed(2)} M` : `${(info.params / 1e3).toFixed(0)} k`;
  const accuracy =
    info.testAccuracy === null
      ? 'not evaluated on the test set yet'
      : `test accuracy ${(info.testAccuracy * 100).toFixed(2)}%`;
  if (state.localModel !== null) return `Answering: ${state.localModel}, ${params} parameters, ${accuracy}.`;
  return `Model: ${info.arch}, ${params} parameters, ${accuracy}.`;
}

function showModelInfo(info: ModelInfo): void {
  state.info = info;
  ui.modelInfo.textContent = describeModel(info);
  if (info.classNames && info.classNames.length === DEFAULT_CLASS_NAMES.length) createChart(ui.chart, info.classNames);
}

async function loadModelInfo(): Promise<void> {
  try {
    showModelInfo(await fetchModelInfo());
  } catch (err) {
    ui.modelInfo.textContent = `Model description unavailable: ${(err as Error).message}`;
  }
}

/** The static site: the model and its run's metadata.json, loaded into this browser at once. */
async function loadStaticModel(modelUrl: string): Promise<void> {
  ui.browserToggle.hidden = true;
  ui.compare.hidden = true;
  setStatus('Loading the model into this browser…');
  try {
    const { loadModelWithMetadata } = await import('../../browser/digit-reader.js');
    const loaded = loadModelWithMetadata(new URL(modelUrl, document.baseURI));
    state.browserModel = loaded.then(({ model }) => model);
    // (A failure is reported below, once.)
    state.browserModel.catch(() => undefined);
    const { metadata } = await loaded;
    state.staticSettings = settingsOf(metadata);
    showModelInfo(staticModelInfo(metadata, state.staticSettings));
    document.body.dataset.browserModel = 'ready';
    setStatus('');
  } catch (err) {
    document.body.dataset.browserModel = 'error';
    setStatus(`Could not load the model: ${(err as Error).message}`, true);
  }
}

/**
 * The Train panel's model (trained in this tab, or uploaded) reads the drawings from now on, in
 * this browser, as the static site's does; #model-info says which model answers.
 */
function useLocalModel(model: BrowserModel, metadata: ModelMetadata, label: string): void {
  state.browserModel = Promise.resolve(model);
  state.staticSettings = settingsOf(metadata);
  state.localModel = label;
  ui.browserToggle.hidden = true;
  ui.compare.hidden = true;
  document.body.dataset.browserModel = 'ready';
  document.body.dataset.answering = 'local';
  showModelInfo(staticModelInfo(metadata, state.staticSettings));
  if (state.current) predict(state.current);
}

/** The run's metadata.json, described as the server's GET /v1/model describes it. */
function staticModelInfo(metadata: ModelMetadata, settings: AnswerSettings): ModelInfo {
  return {
    arch: metadata.arch,
    params: metadata.params,
    testAccuracy: metadata.test?.accuracy ?? null,
    trainedAt: metadata.finishedAt ?? metadata.createdAt,
    minConfidence: settings.rule.minConfidence,
    notADigitBelow: settings.rule.notADigitBelow ?? null,
    temperature: settings.temperature,
    classNames: metadata.classNames,
    preprocessing: settings.spec,
  };
}

// ---------------------------------------------------------------------------- wiring

/** "Wrong? It is a …": the current input, as the model saw it and as drawn (corrections.ts). */
const corrections = new CorrectionsBar(element('correct'), {
  pixels: () => state.current?.pixels ?? null,
  drawn: () => ui.pad.toDataURL('image/png'),
});

const pad = new DrawingPad(ui.pad, {
  onStrokeStart() {
    setStatus('');
    if (state.padShowsPicture) {
      pad.clear();
      state.padShowsPicture = false;
    }
  },
  onInk: predictDrawingSoon,
  onStrokeEnd: predictDrawing,
});

function wireDropZone(): void {
  const zone = ui.dropZone;
  zone.addEventListener('dragover', (e) => {
    e.preventDefault();
    zone.classList.add('dragging');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('dragging'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('dragging');
    const file = e.dataTransfer?.files[0];
    if (file) void predictFile(file);
  });
}

async function start(): Promise<void> {
  createChart(ui.chart, DEFAULT_CLASS_NAMES);
  showEmpty(state.inputId);
  document.body.dataset.input = String(state.inputId);
  ui.clear.addEventListener('click', clearAll);
  ui.file.addEventListener('change', () => {
    const file = ui.file.files?.[0];
    // Reset so that choosing the same file again still fires `change`.
    if (file) void predictFile(file).finally(() => (ui.file.value = ''));
  });
  ui.browserMode.addEventListener('change', () => void toggleBrowserMode());
  ui.inside.addEventListener(
    'toggle',
    () => void refreshLayers().catch((err: Error) => setStatus(`inside the network: ${err.message}`, true)),
  );
  wireDropZone();
  wireTrainPanel({ useModel: useLocalModel });
  if (STATIC_MODEL !== undefined) await loadStaticModel(STATIC_MODEL);
  else await loadModelInfo();
  await corrections.start(STATIC_MODEL === undefined);
  document.body.dataset.state = 'ready';
}

void start();

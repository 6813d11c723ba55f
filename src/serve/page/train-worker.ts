/**
 * The Train panel's worker (bundled by scripts/bundle.mjs as train-worker.js): the whole
 * training runs here, off the page's main thread, so that drawing and reading stay responsive.
 * It is the main thread of ModelReplicas: it fetches and checks the MNIST files
 * (data/fetch.ts), starts the wasm backend with our kernels (backend/web-start.ts) and
 * threads - 1 more workers like it (train-replica.ts, sharing the batch and the weights through
 * SharedArrayBuffers), and runs a TrainingSession (train/session.ts: trainer.ts's own steps).
 * It reports each step and check, sends the first convolution's filters and one test digit's
 * feature maps every VIEW_EVERY steps, and at the end the model's files.
 */
import * as tf from '@tensorflow/tfjs';
import { version_wasm as wasmVersion } from '@tensorflow/tfjs-backend-wasm';
import { startWasmInBrowser } from '../../backend/web-start.js';
import { webReplicaThreads } from '../../backend/web-replica-thread.js';
import { fetchMnist, sha256Hex } from '../../data/fetch.js';
import { scalePixels } from '../../data/model-input.js';
import { PIXELS, type Dataset } from '../../data/types.js';
import { layerActivations, modelViews } from '../../model/activations.js';
import { layersModelJson, weightsBin } from '../../model/layers-format.js';
import { PAGE_VIEW_MAX_BYTES, quantiseView } from '../../model/layer-views.js';
import { TrainingSession } from '../../train/session.js';
import { recipeConfig, type FromWorker, type ToWorker, type TrainViews } from './train-protocol.js';

/** Steps between two pictures of the filters and feature maps (and one after the first step, and at the end). */
const VIEW_EVERY = 50;
/** The test digit whose feature maps are shown: the first of the test set (a 7). */
const VIEW_DIGIT = 0;

interface WorkerScope {
  onmessage: ((event: MessageEvent<ToWorker>) => void) | null;
  postMessage(message: FromWorker, transfer?: Transferable[]): void;
}
const scope = self as unknown as WorkerScope;
const send = (message: FromWorker, transfer: Transferable[] = []) => scope.postMessage(message, transfer);

let session: TrainingSession | undefined;
/** Stop asked for while the data and the workers were still loading: honoured once the session exists. */
let stopAsked = false;
/** Where the data files stand while they load: set by the first `start`. */
let data: Promise<Dataset> | undefined;

/** The first convolution's kernel, and the convolutions' maps for the view digit. */
function viewsOf(model: tf.LayersModel, step: number, set: Dataset['test']): TrainViews {
  const conv = model.layers.find((layer) => layer.getClassName() === 'Conv2D');
  const kernel = conv?.getWeights()[0];
  const pixels = set.images.slice(VIEW_DIGIT * PIXELS, (VIEW_DIGIT + 1) * PIXELS);
  const views = modelViews(model, ['conv']);
  const activations = layerActivations(model, scalePixels(pixels), 1, { layers: views.map((v) => v.layer) });
  return {
    step,
    ...(kernel ? { filters: { values: kernel.dataSync() as Float32Array, shape: kernel.shape } } : {}),
    maps: views.map(({ first: _first, ...view }, k) => ({
      ...view,
      ...quantiseView(activations[k].values, view.shape, PAGE_VIEW_MAX_BYTES),
    })),
    digit: { pixels, label: set.labels[VIEW_DIGIT] },
  };
}

async function train(start: Extract<ToWorker, { type: 'start' }>): Promise<void> {
  stopAsked = false;
  const config = recipeConfig(start.arch, { epochs: start.epochs, threads: start.threads });
  send({ type: 'status', text: 'Loading the MNIST files…' });
  let reported = -Infinity;
  data ??= fetchMnist(new URL(start.dataUrl), {
    onProgress: (progress) => {
      // A line a megabyte is plenty for the page.
      if (progress.loaded - reported < 1e6 && progress.loaded < progress.total) return;
      reported = progress.loaded;
      send({
        type: 'status',
        text:
          progress.from === 'cache'
            ? 'Reading the MNIST files from this browser’s cache…'
            : 'Downloading the MNIST files…',
        data: progress,
      });
    },
  }).catch((err: unknown) => {
    // Tried again at the next start (the server may have been down).
    data = undefined;
    throw err;
  });
  const [dataset] = await Promise.all([data, startWasmInBrowser(start.wasmUrl)]);
  send({ type: 'status', text: `Starting ${config.threads} worker${config.threads > 1 ? 's' : ''}…` });
  const replicaUrl = new URL('./train-replica.js', import.meta.url);
  session = await TrainingSession.start({
    config,
    data: dataset,
    backend: 'wasm',
    versions: {
      'mnist-cnn': start.version,
      browser: navigator.userAgent,
      '@tensorflow/tfjs': tf.version.tfjs,
      '@tensorflow/tfjs-backend-wasm': wasmVersion,
    },
    startThread: webReplicaThreads(() => new Worker(replicaUrl, { type: 'module', name: 'mnist-cnn replica' })),
    onStep: (progress, model) => {
      send({ type: 'step', progress });
      if (progress.step === 1 || progress.step % VIEW_EVERY === 0)
        send({ type: 'views', views: viewsOf(model, progress.step, dataset.test) });
    },
    onCheck: (check) => send({ type: 'check', check }),
  });
  if (stopAsked) session.stop();
  send({
    type: 'started',
    threads: session.threads,
    params: session.model.countParams(),
    batchSize: config.batchSize,
    ...session.plan,
  });
  const { model, metadata, stopped, checks } = await session.run();
  send({ type: 'views', views: viewsOf(model, checks[checks.length - 1].step, dataset.test) });
  let files: { modelJson: object; weights: Uint8Array } | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      files = { modelJson: layersModelJson(artifacts), weights: weightsBin(artifacts) };
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  model.dispose();
  session = undefined;
  const weights = files!.weights.buffer as ArrayBuffer;
  send(
    {
      type: 'done',
      stopped,
      modelJson: files!.modelJson,
      weights,
      metadata: { ...metadata, weightsSha256: await sha256Hex(files!.weights) },
    },
    [weights],
  );
}

scope.onmessage = (event) => {
  const message = event.data;
  if (message.type === 'start') {
    train(message).catch((err: unknown) => {
      session = undefined;
      send({ type: 'error', message: err instanceof Error ? err.message : String(err) });
    });
  } else if (message.type === 'pause') session?.pause();
  else if (message.type === 'resume') session?.resume();
  else if (message.type === 'stop') {
    stopAsked = true;
    session?.stop();
  }
};

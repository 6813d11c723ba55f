/**
 * `mnist-cnn baselines`, the library side: the traditional models of LeCun et al. 1998's
 * comparison, trained and measured on the very split and preprocessing our CNN runs use, beside
 * CNN run folders (LeNet-5 and ours) read through the one inference path. Top to bottom: data →
 * split → pixels scaled by the model-input contract → each model (fit, settings chosen on the
 * validation split, test) → the CNN runs → baselines.json.
 */
import { createRequire } from 'node:module';
import { cpus, loadavg } from 'node:os';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { initBackend } from '../backend/index.js';
import type { BackendName, RuntimeName } from '../backend/names.js';
import { loadMnist } from '../data/load.js';
import { PREPROCESS_SPEC, scalePixels } from '../data/model-input.js';
import { seededSplitIndices, stratifiedSubset, takeIndices } from '../data/split.js';
import { PIXELS, type Dataset, type ImageSet } from '../data/types.js';
import { argmaxRows, digitColumns } from '../metrics/classification.js';
import { WEIGHTS_FILE } from '../model/model-files.js';
import { RUN_FILES } from '../model/run.js';
import { Predictor } from '../predict/predictor.js';
import { createRng, deriveSeed } from '../util/rng.js';
import { libraryVersions } from '../util/version.js';
import { writeJsonAtomic } from '../util/fs.js';
import { describeOwner, liveLockOwner } from '../util/lock.js';
import { denseNet, trainDenseNet, type DenseNetName } from './dense-nets.js';
import { trainForest } from './forest.js';
import { chooseK, knnVote, nearestNeighbours } from './knn.js';
import { PAPER_CITATION, PAPER_FIGURES } from './paper.js';
import { fitPca, projectPca, type Pca } from './pca.js';
import { BASELINES_FILE, newReport, testError, type BaselineResult, type BaselinesReport } from './results.js';
import { trainSvm, type SvmParams } from './svm.js';

/**
 * The settings of every traditional model. Fixed here where the paper or a measurement fixed
 * them; chosen on the validation split where a list is given (k, the SVM's gamma). Tests run
 * the same code with a smaller recipe.
 */
export const RECIPE = {
  /** The split of `npm start`: seed 1, 5,000 of the 60,000 held out. */
  seed: 1,
  /** k-NN: the k of 1..knnMaxK with the lowest validation error. */
  knnMaxK: 10,
  /** k-NN on PCA features: these numbers of components (40: the paper's). */
  pcaComponents: [20, 40, 80],
  dense: {
    batchSize: 128,
    logistic: { epochs: 5, lr: 0.001 },
    mlp300: { epochs: 10, lr: 0.001 },
    mlp300x100: { epochs: 10, lr: 0.001 },
  },
  svm: {
    components: 50,
    /** (gamma, C) pairs tried on a subset of this many images, scored on the validation split. */
    grid: [
      { gamma: 0.02, cost: 5 },
      { gamma: 0.04, cost: 5 },
      { gamma: 0.08, cost: 5 },
    ] as SvmParams[],
    tuneImages: 5000,
    /** The final machine's training images (its cost grows about as their square). */
    trainImages: 20000,
  },
  forest: { components: 40, images: 1000, trees: 30, featureShare: 0.5 },
};
type Recipe = typeof RECIPE;

/** Every traditional model, in the table's order. */
export const TRADITIONAL_MODELS = [
  'logistic',
  'knn',
  'knn-pca',
  'mlp300',
  'mlp300x100',
  'svm-rbf',
  'random-forest',
] as const;
type TraditionalModel = (typeof TRADITIONAL_MODELS)[number];

interface CnnRun {
  dir: string;
  /** `lenet5`: the paper's network; `cnn`: ours. */
  kind: 'lenet5' | 'cnn';
}

export interface BaselinesOptions {
  /** A stratified subset of the training file (0: all 60,000), split as training would split it. */
  limit?: number;
  /** CNN run folders to stand beside the traditional models. */
  cnnRuns?: CnnRun[];
  /** The traditional models to run (default all). */
  models?: readonly TraditionalModel[];
  threads?: number;
  backend?: BackendName;
  /** What runs k-NN's matrix products and the CNNs (default onnx, falling back to tfjs). */
  runtime?: RuntimeName;
  recipe?: Recipe;
  /** Already loaded data (tests). */
  data?: Dataset;
  /** Where baselines.json goes (none: not written). */
  outDir?: string;
  /** Told what is being done, one line at a time. */
  log?: (message: string) => void;
}

/** What the models learn from and are measured on: images and their pixels scaled by the model-input contract. */
interface Sets {
  train: ImageSet;
  val: ImageSet;
  test: ImageSet;
  x: { train: Float32Array; val: Float32Array; test: Float32Array };
}

const seconds = (since: number) => (performance.now() - since) / 1000;
const digits = (predicted: ArrayLike<number>) => Array.from(predicted, String).join('');

function errorsOf(predicted: ArrayLike<number>, labels: Uint8Array): number {
  let wrong = 0;
  for (let i = 0; i < labels.length; i++) if (predicted[i] !== labels[i]) wrong++;
  return wrong;
}

/** A model's test figures from its predictions. */
function measured(
  predicted: ArrayLike<number>,
  test: ImageSet,
): Pick<BaselineResult, 'testErrors' | 'testCount' | 'predictions'> {
  return { testErrors: errorsOf(predicted, test.labels), testCount: test.count, predictions: digits(predicted) };
}

/** Run the traditional models and read the CNN runs; write OUT/baselines.json when `outDir` is given. */
export async function runBaselines(options: BaselinesOptions = {}): Promise<BaselinesReport> {
  const started = performance.now();
  const loadStart = loadavg();
  const recipe = options.recipe ?? RECIPE;
  const log = options.log ?? (() => {});
  const threads = options.threads ?? 2;
  const backend = await initBackend(options.backend ?? 'wasm', { quiet: true });
  const data = options.data ?? (await loadMnist());
  const split = seededSplitIndices(data.train.labels, { seed: recipe.seed, limit: options.limit ?? 0, valCount: null });
  const train = takeIndices(data.train, split.train);
  const val = takeIndices(data.train, split.val);
  const test = data.test;
  const sets: Sets = {
    train,
    val,
    test,
    x: { train: scalePixels(train.images), val: scalePixels(val.images), test: scalePixels(test.images) },
  };
  const context: ModelContext = {
    sets,
    recipe,
    threads,
    backend,
    runtime: options.runtime ?? 'onnx',
    log,
    pca: undefined,
  };

  const models: BaselineResult[] = [];
  for (const name of options.models ?? TRADITIONAL_MODELS) {
    log(`${name}: training on ${train.count.toLocaleString('en-US')} images`);
    for (const result of await TRAINERS[name](context)) {
      models.push(result);
      log(
        `${result.name}: test error ${(testError(result) * 100).toFixed(2)}% (train ${result.trainSeconds.toFixed(1)} s, test ${result.predictSeconds.toFixed(1)} s)`,
      );
    }
  }
  for (const run of options.cnnRuns ?? []) models.push(await readCnnRun(run, test, context));

  const report = newReport({
    createdAt: new Date().toISOString(),
    machine: {
      cpu: cpus()[0]?.model ?? 'unknown',
      cores: cpus().length,
      node: process.version,
      loadAverage: { start: loadStart, end: loadavg() },
    },
    versions: { ...libraryVersions(), ...dependencyVersions(['libsvm-js', 'ml-random-forest', 'onnxruntime-node']) },
    citation: PAPER_CITATION,
    data: {
      dataset: data.name,
      files: data.files,
      split: {
        seed: recipe.seed,
        limit: options.limit ?? 0,
        trainCount: train.count,
        valCount: val.count,
        testCount: test.count,
      },
      preprocessing: PREPROCESS_SPEC,
    },
    totalSeconds: seconds(started),
    models,
  });
  if (options.outDir) await writeJsonAtomic(join(options.outDir, BASELINES_FILE), report);
  return report;
}

/** The installed versions of the libraries the models come from. */
function dependencyVersions(names: string[]): Record<string, string> {
  const require = createRequire(import.meta.url);
  const versionOf = (name: string) => {
    try {
      return (require(`${name}/package.json`) as { version: string }).version;
    } catch {
      return 'unknown'; // a package whose exports hide its package.json
    }
  };
  return Object.fromEntries(names.map((name) => [name, versionOf(name)]));
}

/** What every model's trainer gets. The PCA is fitted once, by the first model that needs it. */
interface ModelContext {
  sets: Sets;
  recipe: Recipe;
  threads: number;
  backend: BackendName;
  runtime: RuntimeName;
  log: (message: string) => void;
  pca: { fit: Pca; seconds: number } | undefined;
}

const TRAINERS: Record<TraditionalModel, (context: ModelContext) => Promise<BaselineResult[]>> = {
  logistic: (c) => denseBaseline(c, 'logistic', 'Logistic regression (softmax, 784-10)', PAPER_FIGURES.linear),
  mlp300: (c) => denseBaseline(c, 'mlp300', 'Fully connected 784-300-10', PAPER_FIGURES.mlp300),
  mlp300x100: (c) => denseBaseline(c, 'mlp300x100', 'Fully connected 784-300-100-10', PAPER_FIGURES.mlp300x100),
  knn: knnPixels,
  'knn-pca': knnPca,
  'svm-rbf': svmBaseline,
  'random-forest': forestBaseline,
};

async function denseBaseline(
  context: ModelContext,
  id: DenseNetName,
  name: string,
  paper: BaselineResult['paper'],
): Promise<BaselineResult[]> {
  const { sets, recipe } = context;
  const settings = recipe.dense[id];
  const model = denseNet(id, deriveSeed(recipe.seed, 100));
  try {
    const result = await trainDenseNet(model, sets, {
      epochs: settings.epochs,
      lr: settings.lr,
      batchSize: recipe.dense.batchSize,
      seed: recipe.seed,
      threads: context.threads,
      backend: context.backend,
      onEpoch: (epoch, error) =>
        context.log(`  ${id} epoch ${epoch}/${settings.epochs}: validation error ${(error * 100).toFixed(2)}%`),
    });
    return [
      {
        id,
        name,
        kind: 'traditional',
        paper,
        ...measured(result.predicted, sets.test),
        valError: result.valError,
        trainedOn: sets.train.count,
        settings: {
          optimizer: 'adam',
          lr: settings.lr,
          batchSize: recipe.dense.batchSize,
          epochs: settings.epochs,
          bestEpoch: result.bestEpoch,
          loss: 'cross-entropy',
        },
        trainSeconds: result.trainSeconds,
        predictSeconds: result.predictSeconds,
        sizeBytes: result.params * 4,
        sizeOf: `${result.params.toLocaleString('en-US')} float32 weights`,
      },
    ];
  } finally {
    model.dispose();
  }
}

/** k-NN on given features: k chosen on validation, then the test images against the same training rows. */
async function knnOn(
  context: ModelContext,
  features: { train: Float32Array; val: Float32Array; test: Float32Array },
  dims: number,
) {
  const { sets, recipe } = context;
  const search = { runtime: context.runtime, threads: context.threads };
  const choosing = performance.now();
  const valNeighbours = await nearestNeighbours(features.train, features.val, dims, recipe.knnMaxK, search);
  const { k, errors } = chooseK(valNeighbours, sets.train.labels, sets.val.labels);
  const trainSeconds = seconds(choosing);
  const testing = performance.now();
  const testNeighbours = await nearestNeighbours(features.train, features.test, dims, k, search);
  const predicted = knnVote(testNeighbours, sets.train.labels, k);
  return { k, valError: errors[k - 1], trainSeconds, predictSeconds: seconds(testing), predicted };
}

async function knnPixels(context: ModelContext): Promise<BaselineResult[]> {
  const { sets } = context;
  const found = await knnOn(context, sets.x, PIXELS);
  return [
    {
      id: 'knn',
      name: 'k-NN, L2 on pixels',
      kind: 'traditional',
      paper: PAPER_FIGURES.knn,
      ...measured(found.predicted, sets.test),
      valError: found.valError,
      trainedOn: sets.train.count,
      settings: { k: found.k, distance: 'L2', exact: 'yes', runtime: context.runtime },
      trainSeconds: found.trainSeconds,
      predictSeconds: found.predictSeconds,
      sizeBytes: sets.train.count * (PIXELS + 1),
      sizeOf: 'the training images and labels, a byte a pixel',
    },
  ];
}

/** The PCA of the training pixels, fitted once with the most components any model needs. */
async function sharedPca(context: ModelContext): Promise<{ fit: Pca; seconds: number }> {
  if (!context.pca) {
    const { recipe } = context;
    const most = Math.max(...recipe.pcaComponents, recipe.svm.components, recipe.forest.components);
    const start = performance.now();
    context.pca = { fit: await fitPca(context.sets.x.train, PIXELS, most), seconds: 0 };
    context.pca.seconds = seconds(start);
  }
  return context.pca;
}

/** The PCA's mean and basis as float32. */
const pcaBytes = (components: number) => (PIXELS * components + PIXELS) * 4;

async function knnPca(context: ModelContext): Promise<BaselineResult[]> {
  const { sets, recipe } = context;
  const pca = await sharedPca(context);
  const results: BaselineResult[] = [];
  for (const components of recipe.pcaComponents) {
    const projecting = performance.now();
    const features = {
      train: projectPca(pca.fit, sets.x.train, components),
      val: projectPca(pca.fit, sets.x.val, components),
      test: projectPca(pca.fit, sets.x.test, components),
    };
    const projectSeconds = seconds(projecting);
    const found = await knnOn(context, features, components);
    const explained = pca.fit.explained.slice(0, components).reduce((a, b) => a + b, 0);
    results.push({
      id: `knn-pca${components}`,
      name: `k-NN, L2 on ${components} PCA components`,
      kind: 'traditional',
      ...(components === 40 ? { paper: PAPER_FIGURES.pcaQuadratic } : {}),
      ...measured(found.predicted, sets.test),
      valError: found.valError,
      trainedOn: sets.train.count,
      settings: { k: found.k, components, explainedVariance: Number(explained.toFixed(4)), runtime: context.runtime },
      trainSeconds: pca.seconds + projectSeconds + found.trainSeconds,
      predictSeconds: found.predictSeconds,
      sizeBytes: sets.train.count * (components * 4 + 1) + pcaBytes(components),
      sizeOf: `the training images as ${components} float32 components, and the PCA`,
    });
  }
  return results;
}

async function svmBaseline(context: ModelContext): Promise<BaselineResult[]> {
  const { sets, recipe } = context;
  const { components, grid } = recipe.svm;
  const pca = await sharedPca(context);
  const started = performance.now();
  const rng = createRng(deriveSeed(recipe.seed, 200));
  const features = (set: ImageSet) => projectPca(pca.fit, scalePixels(set.images), components);
  const valFeatures = features(sets.val);
  // Gamma and C on a subset, scored on the validation split; then the machine on more images.
  const tuneSet = stratifiedSubset(sets.train, Math.min(recipe.svm.tuneImages, sets.train.count), rng);
  const tuneFeatures = features(tuneSet);
  let best: { params: SvmParams; error: number } | undefined;
  for (const params of grid) {
    const svm = await trainSvm(tuneFeatures, components, tuneSet.labels, params);
    const error = errorsOf(svm.predict(valFeatures), sets.val.labels) / sets.val.count;
    svm.free();
    context.log(
      `  svm gamma ${params.gamma}, C ${params.cost}: validation error ${(error * 100).toFixed(2)}% (trained on ${tuneSet.count})`,
    );
    if (!best || error < best.error) best = { params, error };
  }
  const trainSet = stratifiedSubset(sets.train, Math.min(recipe.svm.trainImages, sets.train.count), rng);
  const svm = await trainSvm(features(trainSet), components, trainSet.labels, best!.params);
  const trainSeconds = pca.seconds + seconds(started);
  try {
    const testing = performance.now();
    const predicted = svm.predict(features(sets.test));
    const predictSeconds = seconds(testing);
    return [
      {
        id: 'svm-rbf',
        name: `SVM, RBF kernel on ${components} PCA components`,
        kind: 'traditional',
        paper: PAPER_FIGURES.svmPoly4,
        ...measured(predicted, sets.test),
        valError: best!.error,
        trainedOn: trainSet.count,
        ...(trainSet.count < sets.train.count
          ? {
              subset: `a stratified subset of ${trainSet.count.toLocaleString('en-US')} training images: libsvm's time grows about as the square of the images (docs/baselines.md)`,
            }
          : {}),
        settings: {
          library: 'libsvm-js',
          gamma: best!.params.gamma,
          C: best!.params.cost,
          components,
          supportVectors: svm.supportVectors,
          tunedOn: tuneSet.count,
        },
        trainSeconds,
        predictSeconds,
        sizeBytes: svm.sizeBytes + pcaBytes(components),
        sizeOf: `${svm.supportVectors.toLocaleString('en-US')} support vectors as libsvm saves them, and the PCA`,
      },
    ];
  } finally {
    svm.free();
  }
}

async function forestBaseline(context: ModelContext): Promise<BaselineResult[]> {
  const { sets, recipe } = context;
  const { components, images, trees, featureShare } = recipe.forest;
  const pca = await sharedPca(context);
  const started = performance.now();
  const trainSet = stratifiedSubset(
    sets.train,
    Math.min(images, sets.train.count),
    createRng(deriveSeed(recipe.seed, 300)),
  );
  const forest = trainForest(
    projectPca(pca.fit, scalePixels(trainSet.images), components),
    components,
    trainSet.labels,
    { trees, featureShare, seed: recipe.seed },
  );
  const trainSeconds = pca.seconds + seconds(started);
  const testing = performance.now();
  const predicted = forest.predict(projectPca(pca.fit, sets.x.test, components));
  return [
    {
      id: 'random-forest',
      name: `Random forest on ${components} PCA components`,
      kind: 'traditional',
      ...measured(predicted, sets.test),
      trainedOn: trainSet.count,
      ...(trainSet.count < sets.train.count
        ? {
            subset: `a stratified subset of ${trainSet.count.toLocaleString('en-US')} training images: ml-random-forest's trees take time quadratic in the images (docs/baselines.md)`,
          }
        : {}),
      settings: { library: 'ml-random-forest', trees, featureShare, components },
      trainSeconds,
      predictSeconds: seconds(testing),
      sizeBytes: forest.sizeBytes + pcaBytes(components),
      sizeOf: 'the trees as JSON, and the PCA',
    },
  ];
}

/**
 * A run still training (its folder's lock held by a live process) is waited for: its best model
 * is not final until training ends.
 */
async function untilTrained(dir: string, log: (message: string) => void): Promise<void> {
  for (let told = false; ; told = true) {
    const owner = await liveLockOwner(join(dir, RUN_FILES.lock));
    if (!owner) return;
    if (!told) log(`waiting for ${dir} to finish training (${describeOwner(owner)})`);
    await new Promise((resolve) => setTimeout(resolve, 10_000));
  }
}

/** A CNN run folder read through the one inference path (Predictor): its test predictions, its training time. */
async function readCnnRun(run: CnnRun, test: ImageSet, context: ModelContext): Promise<BaselineResult> {
  await untilTrained(run.dir, context.log);
  const predictor = await Predictor.load(run.dir, {
    threads: context.threads,
    runtime: context.runtime,
    backend: context.backend,
  });
  try {
    const meta = predictor.metadata!;
    const testing = performance.now();
    const predicted = argmaxRows(
      digitColumns(await predictor.probabilities(test, { calibrated: false }), predictor.outputs),
    );
    const predictSeconds = seconds(testing);
    const weights = (await stat(join(predictor.dir, WEIGHTS_FILE))).size;
    const lenet = run.kind === 'lenet5';
    const result: BaselineResult = {
      id: lenet ? 'lenet5' : 'cnn',
      name: lenet ? 'LeNet-5 (ours: ReLU, max-pooling)' : `Our CNN, \`${meta.arch}\``,
      kind: run.kind,
      ...(lenet ? { paper: PAPER_FIGURES.lenet5 } : {}),
      ...measured(predicted, test),
      trainedOn: meta.data.trainCount,
      settings: {
        arch: meta.arch,
        epochs: meta.epochsCompleted,
        augment: String((meta.config.augment as boolean | undefined) ?? ''),
        seed: meta.seed,
      },
      trainSeconds: meta.trainingSeconds,
      predictSeconds,
      sizeBytes: weights,
      sizeOf: `${meta.params.toLocaleString('en-US')} parameters, weights.bin`,
      run: predictor.dir,
    };
    context.log(`${result.name}: test error ${(testError(result) * 100).toFixed(2)}% (${predictor.dir})`);
    return result;
  } finally {
    await predictor.close();
  }
}

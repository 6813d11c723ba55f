import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import * as tf from '@tensorflow/tfjs';
import onnxProto from 'onnx-proto';
import { initBackend } from '../../src/backend/index.js';
import { registerExport } from '../../src/cli/commands/export.js';
import { loadMnist } from '../../src/data/load.js';
import { scalePixels } from '../../src/data/model-input.js';
import { PIXELS, type ImageSet } from '../../src/data/types.js';
import { ARCHITECTURES } from '../../src/model/arch-names.js';
import { buildModel, logitsModel } from '../../src/model/architectures.js';
import { buildEnsembleRun, ensembleModel } from '../../src/model/ensemble.js';
import { loadModel, saveModel } from '../../src/model/io.js';
import { exportRunToOnnx, layersModelToOnnx } from '../../src/export/onnx.js';
import { assertOnnxAgrees, compareProbabilities, createOnnxSession, onnxProbabilities, ONNX_TOLERANCE, tfjsProbabilities, verifyOnnx } from '../../src/export/verify.js';
import { quickRunDir } from '../helpers/quick-run.js';

const { onnx } = onnxProto;
const CLASSES = 10;
/** Images per net; the compact net and the trained quick run get all 10,000. */
const SOME = 2000;
const ALL = 10000;

let work: string;
let images: Float32Array;
let labels: Uint8Array;
let train: ImageSet;

before(async () => {
  await initBackend('wasm');
  work = await mkdtemp(join(tmpdir(), 'mnist-cnn-onnx-'));
  const data = await loadMnist();
  train = data.train;
  const test10k = data.test;
  assert.equal(test10k.count, ALL);
  images = scalePixels(test10k.images);
  labels = test10k.labels;
});

after(async () => {
  await rm(work, { recursive: true, force: true });
});

/**
 * A few steps of training (Adam, batches of 64 training images): enough for an untrained net to
 * tell most digits apart (so that "every argmax equal" compares real decisions, not one class
 * everywhere) and to move batch norm's moving mean and variance off their initial 0 and 1 (which
 * would hide a mix-up of the four batch-norm weights). Seeded data, so every run tests the same net.
 */
async function trainBriefly(model: tf.LayersModel, seed: number, steps = 20): Promise<void> {
  const n = steps * 64;
  const offset = (seed * 997) % (train.count - n);
  const x = tf.tensor4d(scalePixels(train.images.subarray(offset * PIXELS, (offset + n) * PIXELS)), [n, 28, 28, 1]);
  const y = tf.oneHot(tf.tensor1d(train.labels.subarray(offset, offset + n), 'int32'), CLASSES);
  model.compile({ optimizer: tf.train.adam(3e-3), loss: 'categoricalCrossentropy' });
  await model.fit(x, y, { batchSize: 64, epochs: 1, shuffle: false, verbose: 0 });
  tf.dispose([x, y]);
}

function argmaxes(probs: Float32Array): number[] {
  const out: number[] = [];
  for (let row = 0; row < probs.length; row += CLASSES) {
    let best = 0;
    for (let c = 1; c < CLASSES; c++) if (probs[row + c] > probs[row + best]) best = c;
    out.push(best);
  }
  return out;
}

/** ONNX Runtime's and TensorFlow.js's probabilities on the first `count` test images, compared. */
async function compare(bytes: Uint8Array, model: tf.LayersModel, count: number) {
  const session = await createOnnxSession(bytes);
  const ours = await onnxProbabilities(session, [28, 28, 1], images, count);
  await session.release();
  const reference = tfjsProbabilities(model, images, count);
  return { ours, reference, ...compareProbabilities(ours, reference, CLASSES) };
}

function assertAgrees(result: { maxAbsDiff: number; argmaxAgree: number; reference: Float32Array }, count: number, minClasses = 10): void {
  assert.ok(result.maxAbsDiff <= ONNX_TOLERANCE, `max difference ${result.maxAbsDiff}`);
  assert.equal(result.argmaxAgree, count);
  // A net that put every image in one class would agree trivially.
  assert.ok(new Set(argmaxes(result.reference)).size >= minClasses, `the net tells ${minClasses} or more classes apart`);
}

/** What the tests read back from an encoded model, decoded with onnx-proto (plain values, no Longs or nulls). */
function decode(bytes: Uint8Array) {
  const proto = onnx.ModelProto.decode(bytes);
  const graph = proto.graph ?? {};
  const dims = (info: onnxProto.onnx.IValueInfoProto) => (info.type?.tensorType?.shape?.dim ?? []).map((d) => (d.dimParam ? d.dimParam : Number(d.dimValue)));
  return {
    opset: Number(proto.opsetImport[0]?.version),
    producer: proto.producerName,
    props: Object.fromEntries(proto.metadataProps.map((p) => [p.key ?? '', p.value ?? ''])),
    ops: (graph.node ?? []).map((n) => n.opType ?? ''),
    inputs: (graph.input ?? []).map((i) => ({ name: i.name, dims: dims(i) })),
    outputs: (graph.output ?? []).map((o) => ({ name: o.name, dims: dims(o) })),
    /** Numbers held by the initializers. */
    weights: (graph.initializer ?? []).reduce((sum, t) => sum + (t.dims ?? []).reduce((n: number, d) => n * Number(d), 1), 0),
  };
}

for (const arch of ARCHITECTURES) {
  const count = arch === 'compact' ? ALL : SOME;
  test(`${arch}: the ONNX model (opset 13, NHWC in, probabilities out) reproduces TensorFlow.js on ${count.toLocaleString('en-US')} test images`, async () => {
    const model = buildModel(arch, 11);
    await trainBriefly(model, 1);
    const bytes = layersModelToOnnx(model);
    const graph = decode(bytes);
    assert.equal(graph.opset, 13);
    assert.deepEqual(graph.inputs, [{ name: 'image', dims: ['N', 28, 28, 1] }]);
    assert.deepEqual(graph.outputs, [{ name: 'probabilities', dims: ['N', 10] }]);
    assert.equal(graph.weights, model.countParams(), 'every weight is in the graph, once');
    assertAgrees(await compare(bytes, model, count), count);
    model.dispose();
  });
}

test('an ensemble of two members (default with batch norm, lenet5) exports as one graph averaging them', async () => {
  const members = [buildModel('default', 21), buildModel('lenet5', 22)];
  await trainBriefly(members[0], 2);
  await trainBriefly(members[1], 3);
  const ensemble = ensembleModel(members);
  const bytes = layersModelToOnnx(ensemble);
  assert.equal(decode(bytes).ops.filter((op) => op === 'Mean').length, 1);
  const result = await compare(bytes, ensemble, SOME);
  assertAgrees(result, SOME);
  // The mean really is of both: it differs from each member alone.
  for (const member of members) assert.ok(compareProbabilities(result.ours, tfjsProbabilities(member, images, SOME), CLASSES).maxAbsDiff > 1e-2);
  for (const m of [...members, ensemble]) m.dispose();
});

/** softmax(logits / t), from the logits TensorFlow.js computes. */
function softmaxOfLogits(model: tf.LayersModel, count: number, t: number): Float32Array {
  const logits = logitsModel(model);
  return tf.tidy(() => {
    const x = tf.tensor(images.subarray(0, count * PIXELS), [count, 28, 28, 1]);
    return tf.softmax(tf.div(logits.predict(x) as tf.Tensor, t)).dataSync() as Float32Array;
  });
}

test('temperature 2 gives softmax(logits / 2): for one net, and for each member of an ensemble', async () => {
  const count = 1000;
  const model = buildModel('default', 31);
  await trainBriefly(model, 4);
  const bytes = layersModelToOnnx(model, { temperature: 2 });
  assert.deepEqual(decode(bytes).ops.slice(-3), ['Gemm', 'Div', 'Softmax']);
  const session = await createOnnxSession(bytes);
  const ours = await onnxProbabilities(session, [28, 28, 1], images, count);
  await session.release();
  const expected = softmaxOfLogits(model, count, 2);
  assert.ok(compareProbabilities(ours, expected, CLASSES).maxAbsDiff <= ONNX_TOLERANCE);
  assert.equal(compareProbabilities(ours, expected, CLASSES).argmaxAgree, count);
  // Really tempered: far from the untempered probabilities.
  assert.ok(compareProbabilities(ours, softmaxOfLogits(model, count, 1), CLASSES).maxAbsDiff > 1e-2);
  // verifyOnnx's reference (p^(1/T), renormalised) agrees with the logits' softmax.
  const check = await verifyOnnx(bytes, model, images, count, { temperature: 2 });
  assert.ok(check.maxAbsDiff <= ONNX_TOLERANCE && check.argmaxAgree === count);

  const members = [model, buildModel('keras', 32)];
  const ensemble = ensembleModel(members);
  const tempered = layersModelToOnnx(ensemble, { temperature: 2 });
  assert.equal(decode(tempered).ops.filter((op) => op === 'Div').length, 2, 'each member divides its logits');
  const ensembleSession = await createOnnxSession(tempered);
  const mixed = await onnxProbabilities(ensembleSession, [28, 28, 1], images, count);
  await ensembleSession.release();
  const parts = members.map((m) => softmaxOfLogits(m, count, 2));
  const mean = parts[0].map((p, i) => (p + parts[1][i]) / 2);
  assert.ok(compareProbabilities(mixed, mean, CLASSES).maxAbsDiff <= ONNX_TOLERANCE);
  for (const m of [...members, ensemble]) m.dispose();
});

test('layers beyond the four architectures convert too (depthwise, strided same padding, average pooling, merges, activations)', async () => {
  const input = tf.input({ shape: [28, 28, 1] });
  const a = tf.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', activation: 'elu' }).apply(input) as tf.SymbolicTensor; // 14x14, padding 0 before, 1 after
  // 29x29 padded, 28x28 after a 2x2 'valid' depthwise convolution. This branch stays as initialised: tfjs has no gradient for dilated convolutions.
  const b = tf.layers.depthwiseConv2d({ kernelSize: 2, depthMultiplier: 2, activation: 'relu6', trainable: false }).apply(tf.layers.zeroPadding2d({ padding: [[1, 0], [0, 1]] }).apply(input) as tf.SymbolicTensor) as tf.SymbolicTensor;
  const b2 = tf.layers.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same' }).apply(tf.layers.conv2d({ filters: 8, kernelSize: 2, dilationRate: 2, padding: 'same', trainable: false }).apply(b) as tf.SymbolicTensor) as tf.SymbolicTensor;
  const merged = tf.layers.concatenate().apply([tf.layers.leakyReLU({ alpha: 0.2 }).apply(a) as tf.SymbolicTensor, tf.layers.reLU({ maxValue: 3 }).apply(b2) as tf.SymbolicTensor]) as tf.SymbolicTensor;
  const summed = tf.layers.add().apply([tf.layers.globalAveragePooling2d({}).apply(merged) as tf.SymbolicTensor, tf.layers.globalMaxPooling2d({}).apply(merged) as tf.SymbolicTensor]) as tf.SymbolicTensor;
  const pooled = tf.layers.flatten().apply(tf.layers.maxPooling2d({ poolSize: 2 }).apply(merged) as tf.SymbolicTensor) as tf.SymbolicTensor;
  const features = tf.layers.concatenate().apply([summed, pooled]) as tf.SymbolicTensor;
  const hidden = tf.layers.batchNormalization().apply(tf.layers.dense({ units: 32, activation: 'swish' }).apply(features) as tf.SymbolicTensor) as tf.SymbolicTensor;
  const image = tf.layers.reshape({ targetShape: [4, 4, 2] }).apply(hidden) as tf.SymbolicTensor;
  const back = tf.layers.flatten().apply(tf.layers.maxPooling2d({ poolSize: 2, padding: 'same' }).apply(image) as tf.SymbolicTensor) as tf.SymbolicTensor;
  const output = tf.layers.dense({ units: 10, activation: 'softmax' }).apply(tf.layers.multiply().apply([tf.layers.dense({ units: 8, activation: 'tanh' }).apply(back) as tf.SymbolicTensor, tf.layers.dense({ units: 8, activation: 'sigmoid' }).apply(back) as tf.SymbolicTensor]) as tf.SymbolicTensor) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: output });
  await trainBriefly(model, 5, 40);
  for (const opset of [13, 17, 21]) {
    const bytes = layersModelToOnnx(model, { opset });
    assert.equal(decode(bytes).opset, opset);
    assertAgrees(await compare(bytes, model, 1000), 1000, 5);
  }
  model.dispose();
});

test('a layer with no ONNX translation is refused, naming the layer and its class', () => {
  const transposed = tf.sequential({ layers: [tf.layers.conv2dTranspose({ inputShape: [28, 28, 1], filters: 4, kernelSize: 3, name: 'upsample' }), tf.layers.flatten(), tf.layers.dense({ units: 10, activation: 'softmax' })] });
  assert.throws(() => layersModelToOnnx(transposed), (err: Error) => err.name === 'UserError' && /layer 'upsample' \(Conv2DTranspose\) cannot be exported to ONNX/.test(err.message));
  const recurrent = tf.sequential({ layers: [tf.layers.lstm({ inputShape: [28, 28], units: 8, name: 'rows' }), tf.layers.dense({ units: 10, activation: 'softmax' })] });
  assert.throws(() => layersModelToOnnx(recurrent), /layer 'rows' \(LSTM\) cannot be exported to ONNX/);
  const gelu = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [28, 28, 1] }), tf.layers.dense({ units: 10, activation: 'gelu', name: 'head' })] });
  assert.throws(() => layersModelToOnnx(gelu), /layer 'head' \(Dense\) cannot be exported to ONNX: activation 'gelu'/);

  const model = buildModel('lenet5', 1);
  assert.throws(() => layersModelToOnnx(model, { opset: 12 }), /opset 12 is not supported: choose 13 to 21/);
  assert.throws(() => layersModelToOnnx(model, { temperature: 0 }), /temperature 0 is not a positive number/);
  // Logits out: there is no softmax to temper, and the message says which layer is in the way.
  assert.throws(() => layersModelToOnnx(logitsModel(model), { temperature: 2 }), /a temperature cannot be folded into model .*: layer '.*' \(Dense\) lies between the output and its softmax/);
  for (const m of [transposed, recurrent, gelu, model]) m.dispose();
});

test('verifyOnnx catches a model that does not reproduce TensorFlow.js', async () => {
  const model = buildModel('compact', 41);
  const other = buildModel('compact', 42);
  const check = await verifyOnnx(layersModelToOnnx(model), other, images, 500);
  assert.ok(check.maxAbsDiff > 1e-2);
  assert.ok(check.argmaxAgree < 500);
  assert.throws(() => assertOnnxAgrees(check), (err: Error) => err.name === 'UserError' && /does not reproduce the TensorFlow\.js model: max probability difference/.test(err.message));
  model.dispose();
  other.dispose();
});

test('a trained run exports to <run>/model.onnx with its input contract; on the 10,000 test images it scores as TensorFlow.js does', async () => {
  const run = join(work, 'trained');
  await cp(await quickRunDir(), run, { recursive: true });
  const result = await exportRunToOnnx(run);
  assert.equal(result.path, join(run, 'model.onnx'));
  assert.equal(result.temperature, undefined);
  const bytes = new Uint8Array(await readFile(result.path));
  assert.equal(bytes.length, result.bytes);
  const { props, producer } = decode(bytes);
  const metadata = JSON.parse(await readFile(join(run, 'metadata.json'), 'utf8'));
  assert.deepEqual(JSON.parse(props.preprocessing), metadata.preprocessing);
  assert.deepEqual(JSON.parse(props.classNames), metadata.classNames);
  assert.deepEqual(JSON.parse(props.inputShape), [28, 28, 1]);
  assert.equal(props.arch, 'default');
  assert.equal(props.temperature, undefined);
  assert.equal(producer, 'mnist-cnn');

  const model = await loadModel(run);
  const { ours, reference, maxAbsDiff, argmaxAgree } = await compare(bytes, model, ALL);
  assert.ok(maxAbsDiff <= ONNX_TOLERANCE, `max difference ${maxAbsDiff}`);
  assert.equal(argmaxAgree, ALL);
  const correct = (probs: Float32Array) => argmaxes(probs).filter((digit, i) => digit === labels[i]).length;
  assert.equal(correct(ours), correct(reference));
  assert.ok(correct(ours) > 9000, `a trained net: ${correct(ours)} of 10,000 right`);
  model.dispose();
});

test('an ensemble run folder (saved by `ensemble`, loaded back) exports, with arch ensemble in its metadata', async () => {
  const quick = await quickRunDir();
  const second = join(work, 'second');
  await cp(quick, second, { recursive: true });
  const model = await loadModel(second);
  // Another member: the same net with its first kernel scaled, so the two disagree.
  const [kernel, ...rest] = model.getWeights();
  const scaled = tf.mul(kernel, 1.5);
  model.setWeights([scaled, ...rest]);
  scaled.dispose();
  await saveModel(model, second);
  model.dispose();
  const { dir } = await buildEnsembleRun([quick, second], join(work, 'ensemble-run'));
  const { path } = await exportRunToOnnx(dir);
  const bytes = new Uint8Array(await readFile(path));
  assert.equal(decode(bytes).props.arch, 'ensemble');
  const ensemble = await loadModel(dir);
  assertAgrees(await compare(bytes, ensemble, SOME), SOME);
  ensemble.dispose();
});

/** `mnist-cnn export ...` in this process; what it printed. */
async function exportCli(t: { mock: { method: (object: Console, name: 'log', fn: (...args: unknown[]) => void) => unknown } }, ...args: string[]): Promise<string[]> {
  const lines: string[] = [];
  t.mock.method(console, 'log', (...parts: unknown[]) => lines.push(parts.join(' ')));
  const program = new Command('mnist-cnn').exitOverride().configureOutput({ writeErr: () => {} });
  registerExport(program);
  for (const command of program.commands) command.exitOverride().configureOutput({ writeErr: () => {} });
  await program.parseAsync(['node', 'mnist-cnn', 'export', ...args]);
  return lines;
}

test('`export --format onnx` folds in a temperature from metadata.json, checks on the 10,000 test images, and refuses what it cannot write', async (t) => {
  const run = join(work, 'calibrated');
  await cp(await quickRunDir(), run, { recursive: true });
  const metaPath = join(run, 'metadata.json');
  await writeFile(metaPath, JSON.stringify({ ...JSON.parse(await readFile(metaPath, 'utf8')), temperature: 1.5 }));
  const out = join(work, 'exports', 'calibrated.onnx');
  const lines = await exportCli(t, run, '--format', 'onnx', '--out', out);
  assert.match(lines[0], /^checked on 10,000 test images: max probability difference \S+ \(allowed 1e-5\), 10,000 of 10,000 predicted classes equal/);
  assert.match(lines[1], /^wrote .*calibrated\.onnx \(1\.7 MB, ONNX opset 13, temperature 1\.5 folded in\)$/);
  const bytes = new Uint8Array(await readFile(out));
  assert.equal(decode(bytes).props.temperature, '1.5');
  const model = await loadModel(run);
  const session = await createOnnxSession(bytes);
  const ours = await onnxProbabilities(session, [28, 28, 1], images, 1000);
  await session.release();
  assert.ok(compareProbabilities(ours, softmaxOfLogits(model, 1000, 1.5), CLASSES).maxAbsDiff <= ONNX_TOLERANCE);
  model.dispose();

  assert.deepEqual(await exportCli(t, run, '--format', 'onnx', '--no-verify', '--quiet'), []);
  assert.ok(existsSync(join(run, 'model.onnx')));

  // A refused export leaves no file, not even a temporary one.
  await rm(join(run, 'model.onnx'));
  await writeFile(metaPath, JSON.stringify({ ...JSON.parse(await readFile(metaPath, 'utf8')), temperature: -1 }));
  await assert.rejects(exportCli(t, run, '--format', 'onnx'), /temperature -1 is not a positive number/);
  assert.deepEqual((await readdir(run)).filter((f) => f.includes('onnx')), []);
  await assert.rejects(exportCli(t, run, '--out', out), /required option '--format <format>' not specified/);
});

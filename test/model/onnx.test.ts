import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import onnxProto from 'onnx-proto';
import { argmaxRows } from '../../src/metrics/classification.js';
import { applyTemperature } from '../../src/metrics/calibration.js';
import { scalePixels } from '../../src/data/model-input.js';
import { NUM_CLASSES, PIXELS, type ImageSet } from '../../src/data/types.js';
import { ARCHITECTURES } from '../../src/model/arch-names.js';
import { buildModel, logitsModel } from '../../src/model/architectures.js';
import { ensembleModel } from '../../src/model/ensemble.js';
import { layersModelToOnnx } from '../../src/model/onnx.js';
// The export's check runs ONNX Runtime and compares: the tools of these tests too.
import { compareProbabilities, ONNX_TOLERANCE, tfjsProbabilities } from '../../src/export/verify.js';
import { ALL, scaledTestSet, SOME } from '../helpers/onnx.js';
import { onnxAgainstTfjs, onnxRuntimeProbabilities, softmaxOfLogits } from '../helpers/probabilities.js';

/**
 * The converter (src/model/onnx.ts): every architecture, an ensemble, a temperature and layers
 * beyond the architectures become ONNX models that ONNX Runtime runs to TensorFlow.js's
 * probabilities (within 1e-5), and what it cannot translate is refused by name. Writing a run's
 * file and the check are test/export/onnx.test.ts's.
 */

const { onnx } = onnxProto;

let images: Float32Array;
let train: ImageSet;

before(async () => {
  ({ images, train } = await scaledTestSet());
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
  const y = tf.oneHot(tf.tensor1d(train.labels.subarray(offset, offset + n), 'int32'), NUM_CLASSES);
  model.compile({ optimizer: tf.train.adam(3e-3), loss: 'categoricalCrossentropy' });
  await model.fit(x, y, { batchSize: 64, epochs: 1, shuffle: false, verbose: 0 });
  tf.dispose([x, y]);
}

/** ONNX Runtime's and TensorFlow.js's probabilities on the first `count` test images, compared. */
const compare = (bytes: Uint8Array, model: tf.LayersModel, count: number) =>
  onnxAgainstTfjs(bytes, model, images, count);

function assertAgrees(
  result: { maxAbsDiff: number; argmaxAgree: number; reference: Float32Array },
  count: number,
  minClasses = 10,
): void {
  assert.ok(result.maxAbsDiff <= ONNX_TOLERANCE, `max difference ${result.maxAbsDiff}`);
  assert.equal(result.argmaxAgree, count);
  // A net that put every image in one class would agree trivially.
  assert.ok(
    new Set(argmaxRows(result.reference)).size >= minClasses,
    `the net tells ${minClasses} or more classes apart`,
  );
}

/** What the tests read back from an encoded model, decoded with onnx-proto (plain values, no Longs or nulls). */
function decode(bytes: Uint8Array) {
  const proto = onnx.ModelProto.decode(bytes);
  const graph = proto.graph ?? {};
  const dims = (info: onnxProto.onnx.IValueInfoProto) =>
    (info.type?.tensorType?.shape?.dim ?? []).map((d) => (d.dimParam ? d.dimParam : Number(d.dimValue)));
  return {
    opset: Number(proto.opsetImport[0]?.version),
    ops: (graph.node ?? []).map((n) => n.opType ?? ''),
    inputs: (graph.input ?? []).map((i) => ({ name: i.name, dims: dims(i) })),
    outputs: (graph.output ?? []).map((o) => ({ name: o.name, dims: dims(o) })),
    /** Numbers held by the initializers. */
    weights: (graph.initializer ?? []).reduce(
      (sum, t) => sum + (t.dims ?? []).reduce((n: number, d) => n * Number(d), 1),
      0,
    ),
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
  for (const member of members)
    assert.ok(
      compareProbabilities(result.ours, tfjsProbabilities(member, images, SOME), NUM_CLASSES).maxAbsDiff > 1e-2,
    );
  for (const m of [...members, ensemble]) m.dispose();
});

test('temperature 2 gives softmax(logits / 2) for one net, and softmax(log(mean) / 2) for an ensemble, as the Predictor calibrates it', async () => {
  const count = 1000;
  const model = buildModel('default', 31);
  await trainBriefly(model, 4);
  const bytes = layersModelToOnnx(model, { temperature: 2 });
  assert.deepEqual(decode(bytes).ops.slice(-3), ['Gemm', 'Div', 'Softmax']);
  const ours = await onnxRuntimeProbabilities(bytes, images, count);
  const expected = softmaxOfLogits(model, images, count, 2);
  assert.ok(compareProbabilities(ours, expected, NUM_CLASSES).maxAbsDiff <= ONNX_TOLERANCE);
  assert.equal(compareProbabilities(ours, expected, NUM_CLASSES).argmaxAgree, count);
  // Really tempered: far from the untempered probabilities.
  assert.ok(compareProbabilities(ours, softmaxOfLogits(model, images, count, 1), NUM_CLASSES).maxAbsDiff > 1e-2);

  const members = [model, buildModel('keras', 32)];
  const ensemble = ensembleModel(members);
  const tempered = layersModelToOnnx(ensemble, { temperature: 2 });
  assert.deepEqual(
    decode(tempered).ops.slice(-4),
    ['Mean', 'Log', 'Div', 'Softmax'],
    'the mean is tempered as a whole',
  );
  const mixed = await onnxRuntimeProbabilities(tempered, images, count);
  const parts = members.map((m) => softmaxOfLogits(m, images, count, 1));
  const mean = parts[0].map((p, i) => (p + parts[1][i]) / 2);
  assert.ok(compareProbabilities(mixed, applyTemperature(mean, 2), NUM_CLASSES).maxAbsDiff <= ONNX_TOLERANCE);
  assert.ok(compareProbabilities(mixed, mean, NUM_CLASSES).maxAbsDiff > 1e-2);
  for (const m of [...members, ensemble]) m.dispose();
});

test('layers beyond the four architectures convert too (depthwise, strided same padding, average pooling, merges, activations)', async () => {
  const input = tf.input({ shape: [28, 28, 1] });
  const a = tf.layers
    .conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', activation: 'elu' })
    .apply(input) as tf.SymbolicTensor; // 14x14, padding 0 before, 1 after
  // 29x29 padded, 28x28 after a 2x2 'valid' depthwise convolution. This branch stays as initialised: tfjs has no gradient for dilated convolutions.
  const b = tf.layers
    .depthwiseConv2d({ kernelSize: 2, depthMultiplier: 2, activation: 'relu6', trainable: false })
    .apply(
      tf.layers
        .zeroPadding2d({
          padding: [
            [1, 0],
            [0, 1],
          ],
        })
        .apply(input),
    ) as tf.SymbolicTensor;
  const b2 = tf.layers
    .averagePooling2d({ poolSize: 3, strides: 2, padding: 'same' })
    .apply(
      tf.layers.conv2d({ filters: 8, kernelSize: 2, dilationRate: 2, padding: 'same', trainable: false }).apply(b),
    ) as tf.SymbolicTensor;
  const merged = tf.layers
    .concatenate()
    .apply([
      tf.layers.leakyReLU({ alpha: 0.2 }).apply(a) as tf.SymbolicTensor,
      tf.layers.reLU({ maxValue: 3 }).apply(b2) as tf.SymbolicTensor,
    ]) as tf.SymbolicTensor;
  const summed = tf.layers
    .add()
    .apply([
      tf.layers.globalAveragePooling2d({}).apply(merged) as tf.SymbolicTensor,
      tf.layers.globalMaxPooling2d({}).apply(merged) as tf.SymbolicTensor,
    ]) as tf.SymbolicTensor;
  const pooled = tf.layers.flatten().apply(tf.layers.maxPooling2d({ poolSize: 2 }).apply(merged)) as tf.SymbolicTensor;
  const features = tf.layers.concatenate().apply([summed, pooled]) as tf.SymbolicTensor;
  const hidden = tf.layers
    .batchNormalization()
    .apply(tf.layers.dense({ units: 32, activation: 'swish' }).apply(features)) as tf.SymbolicTensor;
  const image = tf.layers.reshape({ targetShape: [4, 4, 2] }).apply(hidden) as tf.SymbolicTensor;
  const back = tf.layers
    .flatten()
    .apply(tf.layers.maxPooling2d({ poolSize: 2, padding: 'same' }).apply(image)) as tf.SymbolicTensor;
  const output = tf.layers
    .dense({ units: 10, activation: 'softmax' })
    .apply(
      tf.layers
        .multiply()
        .apply([
          tf.layers.dense({ units: 8, activation: 'tanh' }).apply(back) as tf.SymbolicTensor,
          tf.layers.dense({ units: 8, activation: 'sigmoid' }).apply(back) as tf.SymbolicTensor,
        ]),
    ) as tf.SymbolicTensor;
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
  const transposed = tf.sequential({
    layers: [
      tf.layers.conv2dTranspose({ inputShape: [28, 28, 1], filters: 4, kernelSize: 3, name: 'upsample' }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 10, activation: 'softmax' }),
    ],
  });
  assert.throws(
    () => layersModelToOnnx(transposed),
    (err: Error) =>
      err.name === 'UserError' && /layer 'upsample' \(Conv2DTranspose\) cannot be exported to ONNX/.test(err.message),
  );
  const recurrent = tf.sequential({
    layers: [
      tf.layers.lstm({ inputShape: [28, 28], units: 8, name: 'rows' }),
      tf.layers.dense({ units: 10, activation: 'softmax' }),
    ],
  });
  assert.throws(() => layersModelToOnnx(recurrent), /layer 'rows' \(LSTM\) cannot be exported to ONNX/);
  const gelu = tf.sequential({
    layers: [
      tf.layers.flatten({ inputShape: [28, 28, 1] }),
      tf.layers.dense({ units: 10, activation: 'gelu', name: 'head' }),
    ],
  });
  assert.throws(() => layersModelToOnnx(gelu), /layer 'head' \(Dense\) cannot be exported to ONNX: activation 'gelu'/);

  const model = buildModel('lenet5', 1);
  assert.throws(() => layersModelToOnnx(model, { opset: 12 }), /opset 12 is not supported: choose 13 to 21/);
  assert.throws(() => layersModelToOnnx(model, { temperature: 0 }), /temperature 0 is not a positive number/);
  // Logits out: there is no softmax to temper, and the message says which layer is in the way.
  assert.throws(
    () => layersModelToOnnx(logitsModel(model), { temperature: 2 }),
    /a temperature cannot be folded into model .*: layer '.*' \(Dense\) lies between the output and its softmax/,
  );
  for (const m of [transposed, recurrent, gelu, model]) m.dispose();
});

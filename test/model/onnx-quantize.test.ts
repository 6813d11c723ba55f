import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { InferenceSession } from 'onnxruntime-node';
import { ARCHITECTURES } from '../../src/model/arch-names.js';
import { buildModel } from '../../src/model/architectures.js';
import { loadModel } from '../../src/model/io.js';
import { layersModelToOnnx } from '../../src/model/onnx.js';
import {
  activationParams,
  calibrationValues,
  foldBatchNorms,
  quantizeOnnx,
  quantizeWeights,
  withOutputs,
} from '../../src/model/onnx-quantize.js';
import { calibrateRanges } from '../../src/export/int8.js';
import { compareProbabilities, createOnnxSession } from '../../src/export/verify.js';
import { NUM_CLASSES, PIXELS } from '../../src/data/types.js';
import { quickRunDir } from '../helpers/quick-run.js';
import { ALL, metadataProps, scaledTestSet } from '../helpers/onnx.js';
import { onnxRuntimeProbabilities } from '../helpers/probabilities.js';
import { scalePixels } from '../../src/data/model-input.js';

/**
 * int8 quantisation of the converter's ONNX models (src/model/onnx-quantize.ts). The ranges are
 * calibrated here on training images (export/int8.ts `calibrateRanges`); a run's export calibrates
 * on its validation split (test/export/int8.test.ts).
 */

const { onnx } = onnxProto;
const { DataType } = onnx.TensorProto;
const SHAPE = [28, 28, 1];
const CALIBRATION = 2000;

let work: string;
let images: Float32Array;
let calibration: Float32Array;

before(async () => {
  const set = await scaledTestSet();
  images = set.images;
  calibration = scalePixels(set.train.images.subarray(0, CALIBRATION * PIXELS));
  work = await mkdtemp(join(tmpdir(), 'mnist-cnn-int8-'));
});

after(async () => {
  await rm(work, { recursive: true, force: true });
});

async function quantized(float: Uint8Array, options: { weightBits?: 7 | 8 } = {}): Promise<Uint8Array> {
  return quantizeOnnx(float, await calibrateRanges(float, calibration, CALIBRATION, SHAPE), options);
}

/** The op types of the graph ONNX Runtime runs for `bytes` (its CPU provider's fusions applied, no machine-specific layouts). */
async function fusedOps(bytes: Uint8Array, name: string): Promise<string[]> {
  const path = join(work, `${name}.fused.onnx`);
  const session = await InferenceSession.create(bytes, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'extended',
    optimizedModelFilePath: path,
  });
  await session.release();
  return onnx.ModelProto.decode(await readFile(path)).graph!.node!.map(
    (n) => `${n.domain ? `${n.domain}:` : ''}${n.opType}`,
  );
}

const initializerOf = (model: InstanceType<typeof onnx.ModelProto>, name: string) =>
  model.graph!.initializer!.find((t) => t.name === name);
const producerOf = (model: InstanceType<typeof onnx.ModelProto>, value: string) =>
  model.graph!.node!.find((n) => n.output!.includes(value));

test('activation ranges: a ReLU range gets zero point 0, every range holds 0, a degenerate one does not divide by zero', () => {
  assert.deepEqual(activationParams({ min: 0, max: 1 }), { scale: Math.fround(1 / 255), zeroPoint: 0 });
  // An image scaled to [0, 1] is quantised without loss: pixel p is exactly p * (1 / 255).
  const relu = activationParams({ min: 0, max: 6.3 });
  assert.equal(relu.zeroPoint, 0);
  assert.ok(Math.abs(relu.scale * 255 - 6.3) < 1e-5);
  const positive = activationParams({ min: 2, max: 4 });
  assert.equal(positive.zeroPoint, 0, 'widened to [0, 4]');
  assert.ok(Math.abs(positive.scale * 255 - 4) < 1e-5);
  // [-1, 1]: 0 sits at 127.5 steps, rounded to one side of it.
  assert.ok([127, 128].includes(activationParams({ min: -1, max: 1 }).zeroPoint));
  const negative = activationParams({ min: -3, max: -1 });
  assert.equal(negative.zeroPoint, 255, 'widened to [-3, 0]');
  assert.deepEqual(activationParams({ min: 0, max: 0 }), { scale: 1, zeroPoint: 0 });
  assert.throws(() => activationParams({ min: 1, max: 0 }), /not a finite interval/);
  assert.throws(() => activationParams({ min: Number.NaN, max: 1 }), /not a finite interval/);
});

test('weights: symmetric int8 per output channel, the largest |w| of each channel at ±127 (±63 with 7 bits), a zero channel at scale 1', () => {
  // Two output channels along axis 1 of a [3, 2] matrix (a Gemm's B): channel 0 = 0.6, -1, 0.2; channel 1 = zeros.
  const w = Float32Array.from([0.6, 0, -1, 0, 0.2, 0]);
  const { q, scales } = quantizeWeights(w, [3, 2], 1);
  assert.deepEqual(Array.from(scales), [Math.fround(1 / 127), 1]);
  assert.deepEqual(Array.from(q), [76, 0, -127, 0, 25, 0]);
  const seven = quantizeWeights(w, [3, 2], 1, 63);
  assert.deepEqual(Array.from(seven.q), [38, 0, -63, 0, 13, 0]);
  // Axis 0 of an OIHW conv weight: each output channel's own scale.
  const conv = quantizeWeights(Float32Array.from([1, -2, 3, 0.5, 0.3, -0.125]), [2, 3, 1, 1], 0);
  assert.deepEqual(Array.from(conv.scales), [Math.fround(3 / 127), Math.fround(0.5 / 127)]);
  assert.deepEqual(Array.from(conv.q), [42, -85, 127, 127, 76, -32]);
});

test('batch normalisation folds into the Conv and Gemm before it without changing what the model computes', async () => {
  const model = await loadModel(await quickRunDir());
  const float = layersModelToOnnx(model);
  const folded = foldBatchNorms(float);
  const ops = (bytes: Uint8Array) => onnx.ModelProto.decode(bytes).graph!.node!.map((n) => n.opType);
  assert.equal(ops(float).filter((op) => op === 'BatchNormalization').length, 2, 'the default net has two');
  assert.deepEqual(
    ops(folded).filter((op) => op === 'BatchNormalization'),
    [],
  );
  const count = 2000;
  const check = compareProbabilities(
    await onnxRuntimeProbabilities(folded, images, count),
    await onnxRuntimeProbabilities(float, images, count),
    NUM_CLASSES,
  );
  assert.ok(check.maxAbsDiff < 1e-5, `max difference ${check.maxAbsDiff}`);
  assert.equal(check.argmaxAgree, count);
  // Nothing to fold: the same bytes.
  const lenet = layersModelToOnnx(buildModel('lenet5', 1));
  assert.equal(foldBatchNorms(lenet), lenet);
  model.dispose();
});

test("a trained run's model quantised: int8 weights, uint8 activations, the same input, output and metadata_props, and the float model's answer on 99% of the test images", async () => {
  const model = await loadModel(await quickRunDir());
  const metadata = { arch: 'default', notADigitBelow: '0.5' };
  const float = layersModelToOnnx(model, { temperature: 1.3, metadata });
  // What is calibrated: the image, and the ReLU outputs that enter the second conv (through max pooling), the first dense layer (through pooling, transpose and flatten) and the last one.
  const values = calibrationValues(float);
  assert.equal(values.length, 4);
  assert.equal(values[0], 'image');
  const floatModel = onnx.ModelProto.decode(float);
  for (const value of values.slice(1)) assert.equal(producerOf(floatModel, value)?.opType, 'Relu', value);
  const ranges = await calibrateRanges(float, calibration, CALIBRATION, SHAPE);
  assert.deepEqual(ranges.get('image'), { min: 0, max: 1 });
  for (const value of values.slice(1)) assert.ok(ranges.get(value)!.min === 0 && ranges.get(value)!.max > 0, value);
  const bytes = quantizeOnnx(float, ranges);

  // Same contract at the edges.
  const int8 = onnx.ModelProto.decode(bytes);
  assert.deepEqual(
    onnx.ValueInfoProto.toObject(int8.graph!.input![0] as InstanceType<typeof onnx.ValueInfoProto>),
    onnx.ValueInfoProto.toObject(floatModel.graph!.input![0] as InstanceType<typeof onnx.ValueInfoProto>),
  );
  assert.deepEqual(
    onnx.ValueInfoProto.toObject(int8.graph!.output![0] as InstanceType<typeof onnx.ValueInfoProto>),
    onnx.ValueInfoProto.toObject(floatModel.graph!.output![0] as InstanceType<typeof onnx.ValueInfoProto>),
  );
  const props = metadataProps(bytes);
  assert.deepEqual({ ...props, quantization: undefined }, { ...metadata, quantization: undefined });
  assert.match(JSON.parse(props.quantization).weights, /^int8 symmetric per output channel, \[-63, 63\]$/);
  const session = await createOnnxSession(bytes);
  assert.deepEqual([session.inputNames, session.outputNames], [['image'], ['probabilities']]);
  await session.release();

  // Every Conv and Gemm reads its weight from int8 numbers (zero point 0, one scale per output channel) and its bias from int32.
  const computes = int8.graph!.node!.filter((n) => n.opType === 'Conv' || n.opType === 'Gemm');
  assert.equal(computes.length, 4);
  for (const node of computes) {
    const dq = producerOf(int8, node.input![1])!;
    assert.equal(dq.opType, 'DequantizeLinear');
    const [q, scale, zero] = dq.input!.map((name) => initializerOf(int8, name)!);
    assert.equal(q.dataType, DataType.INT8, node.name!);
    const channels = Number(q.dims![node.opType === 'Conv' ? 0 : 1]);
    assert.deepEqual([scale.dims!.map(Number), zero.dims!.map(Number)], [[channels], [channels]]);
    assert.ok(zero.rawData!.every((b) => b === 0));
    assert.ok(
      q.rawData!.every((b) => b <= 63 || b >= 0xc1),
      '7 bits: in [-63, 63]',
    );
    assert.ok(
      q.rawData!.some((b) => b === 63 || b === 0xc1),
      'each channel reaches ±63: some byte does',
    );
    const bias = initializerOf(int8, producerOf(int8, node.input![2])!.input![0])!;
    assert.equal(bias.dataType, DataType.INT32);
  }
  // No float weight is left: the float initializers are the scales (one per channel or tensor) and the temperature.
  const floats = int8.graph!.initializer!.filter((t) => t.dataType === DataType.FLOAT);
  assert.ok(
    floats.every((t) => t.dims!.length <= 1 && Number(t.dims![0] ?? 1) <= 128),
    floats.map((t) => t.name).join(', '),
  );
  assert.ok(bytes.length < float.length * 0.3, `${bytes.length} bytes against ${float.length}`);

  // ONNX Runtime fuses it into its integer kernels: no float Conv or Gemm, no Q/DQ left but the input's.
  const ops = await fusedOps(bytes, 'default');
  assert.deepEqual(
    ops.filter((op) => ['Conv', 'Gemm', 'DequantizeLinear', 'FusedConv'].includes(op.replace(/^.*:/, ''))),
    [],
    ops.join(' '),
  );
  assert.equal(ops.filter((op) => op === 'QLinearConv').length, 2, ops.join(' '));
  assert.equal(ops.filter((op) => op === 'com.microsoft:QGemm').length, 2, ops.join(' '));

  // The float model's answers, and the folded temperature kept.
  const check = compareProbabilities(
    await onnxRuntimeProbabilities(bytes, images, ALL),
    await onnxRuntimeProbabilities(float, images, ALL),
    NUM_CLASSES,
  );
  assert.ok(check.argmaxAgree >= 0.99 * ALL, `${check.argmaxAgree} of ${ALL} agree`);
  assert.ok(
    int8.graph!.node!.some(
      (n) => n.opType === 'Div' && initializerOf(int8, n.input![1])?.name?.endsWith('temperature'),
    ),
  );

  // 8-bit weights: [-127, 127], still the float model's answers.
  const eight = await quantized(float, { weightBits: 8 });
  assert.match(JSON.parse(metadataProps(eight).quantization).weights, /\[-127, 127\]$/);
  const eightCheck = compareProbabilities(
    await onnxRuntimeProbabilities(eight, images, ALL),
    await onnxRuntimeProbabilities(float, images, ALL),
    NUM_CLASSES,
  );
  assert.ok(eightCheck.argmaxAgree >= 0.99 * ALL, `${eightCheck.argmaxAgree} of ${ALL} agree`);
  model.dispose();
});

test('every architecture quantises into ONNX Runtime integer kernels and runs', async () => {
  for (const arch of ARCHITECTURES) {
    const model = buildModel(arch, 1);
    const bytes = await quantized(layersModelToOnnx(model));
    const ops = await fusedOps(bytes, arch);
    assert.deepEqual(
      ops.filter((op) => ['Conv', 'Gemm', 'DequantizeLinear'].includes(op)),
      [],
      `${arch}: ${ops.join(' ')}`,
    );
    const probs = await onnxRuntimeProbabilities(bytes, images, 100);
    assert.equal(probs.length, 100 * NUM_CLASSES);
    for (let i = 0; i < 100; i++) {
      const sum = probs.subarray(i * NUM_CLASSES, (i + 1) * NUM_CLASSES).reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(sum - 1) < 1e-4, `${arch}: row ${i} sums to ${sum}`);
    }
    model.dispose();
  }
});

test('refused: a model with nothing to quantise, a missing range, a bad bit count; withOutputs exposes values but not the input', async () => {
  const model = buildModel('compact', 1);
  const float = layersModelToOnnx(model);
  const ranges = await calibrateRanges(float, calibration, 200, SHAPE);
  ranges.delete(calibrationValues(float)[1]);
  assert.throws(
    () => quantizeOnnx(float, ranges),
    (err: Error) => err.name === 'UserError' && /no calibrated range for '/.test(err.message),
  );
  assert.throws(() => quantizeOnnx(float, ranges, { weightBits: 4 as 8 }), /7 or 8 bits, not 4/);
  const exposed = onnx.ModelProto.decode(withOutputs(float, calibrationValues(float)));
  assert.deepEqual(
    exposed.graph!.output!.map((o) => o.name),
    ['probabilities', ...calibrationValues(float).slice(1)],
  );
  // A graph with no Conv, Gemm or MatMul (a bare softmax of the input).
  const bare = onnx.ModelProto.encode(
    onnx.ModelProto.create({
      irVersion: 7,
      opsetImport: [{ domain: '', version: 13 }],
      graph: {
        name: 'bare',
        node: [{ opType: 'Softmax', input: ['x'], output: ['y'], name: 'softmax' }],
        input: [
          {
            name: 'x',
            type: { tensorType: { elemType: DataType.FLOAT, shape: { dim: [{ dimValue: 1 }, { dimValue: 3 }] } } },
          },
        ],
        output: [
          {
            name: 'y',
            type: { tensorType: { elemType: DataType.FLOAT, shape: { dim: [{ dimValue: 1 }, { dimValue: 3 }] } } },
          },
        ],
      },
    }),
  ).finish();
  assert.throws(
    () => quantizeOnnx(bare, new Map()),
    (err: Error) => err.name === 'UserError' && /no Conv, Gemm or MatMul with weights to quantise/.test(err.message),
  );
  model.dispose();
});

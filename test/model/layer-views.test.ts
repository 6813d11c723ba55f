import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  colourise,
  describeShape,
  layerViews,
  mapsImage,
  PAGE_VIEW_MAX_BYTES,
  quantiseView,
  type LayerInfo,
} from '../../src/model/layer-views.js';

const LENET: LayerInfo[] = [
  { name: 'c1', className: 'Conv2D', shape: [28, 28, 6], activation: 'relu' },
  { name: 'p1', className: 'MaxPooling2D', shape: [14, 14, 6] },
  { name: 'c2', className: 'Conv2D', shape: [10, 10, 16], activation: 'relu' },
  { name: 'p2', className: 'MaxPooling2D', shape: [5, 5, 16] },
  { name: 'f', className: 'Flatten', shape: [400] },
  { name: 'd1', className: 'Dense', shape: [120], activation: 'relu' },
  { name: 'd2', className: 'Dense', shape: [84], activation: 'relu' },
  { name: 'd3', className: 'Dense', shape: [10], activation: 'linear' },
  { name: 'probabilities', className: 'Activation', shape: [10], activation: 'softmax' },
];

test('views: convolutions and pooling layers, hidden dense layers (not the last, nor the softmax after it); labels count every kind', () => {
  assert.deepEqual(
    layerViews(LENET).map((v) => [v.label, v.layer, v.after]),
    [
      ['conv 1', 'c1', 'relu'],
      ['pool 1', 'p1', ''],
      ['conv 2', 'c2', 'relu'],
      ['pool 2', 'p2', ''],
      ['dense 1', 'd1', 'relu'],
      ['dense 2', 'd2', 'relu'],
    ],
  );
  assert.deepEqual(
    layerViews(LENET, ['conv', 'dense']).map((v) => v.label),
    ['conv 1', 'conv 2', 'dense 1', 'dense 2'],
  );
  const bn: LayerInfo[] = [
    { name: 'c', className: 'Conv2D', shape: [4, 4, 2], activation: 'linear' },
    { name: 'bn', className: 'BatchNormalization', shape: [4, 4, 2] },
    { name: 'relu', className: 'Activation', shape: [4, 4, 2], activation: 'relu' },
    { name: 'out', className: 'Dense', shape: [10] },
    { name: 'softmax', className: 'Activation', shape: [10], activation: 'softmax' },
  ];
  assert.deepEqual(
    layerViews(bn).map((v) => [v.label, v.first, v.layer, v.after]),
    [['conv 1', 'c', 'relu', 'batch norm + relu']],
  );
  // A graph (an ensemble's members side by side, their layers interleaved): what follows what comes from `inbound`.
  const ensemble: LayerInfo[] = [
    { name: 'a_c', className: 'Conv2D', shape: [4, 4, 2], inbound: 'image' },
    { name: 'b_c', className: 'Conv2D', shape: [4, 4, 2], inbound: 'image' },
    { name: 'a_bn', className: 'BatchNormalization', shape: [4, 4, 2], inbound: 'a_c' },
    { name: 'b_bn', className: 'BatchNormalization', shape: [4, 4, 2], inbound: 'b_c' },
    { name: 'a_relu', className: 'Activation', shape: [4, 4, 2], activation: 'relu', inbound: 'a_bn' },
    { name: 'b_relu', className: 'Activation', shape: [4, 4, 2], activation: 'relu', inbound: 'b_bn' },
    { name: 'a_out', className: 'Dense', shape: [10], inbound: 'a_relu' },
    { name: 'b_out', className: 'Dense', shape: [10], inbound: 'b_relu' },
    { name: 'a_p', className: 'Activation', shape: [10], activation: 'softmax', inbound: 'a_out' },
    { name: 'b_p', className: 'Activation', shape: [10], activation: 'softmax', inbound: 'b_out' },
  ];
  assert.deepEqual(
    layerViews(ensemble).map((v) => [v.label, v.first, v.layer, v.after]),
    [
      ['conv 1', 'a_c', 'a_relu', 'batch norm + relu'],
      ['conv 2', 'b_c', 'b_relu', 'batch norm + relu'],
    ],
  );
  assert.equal(describeShape([14, 14, 64]), '64 maps 14x14');
  assert.equal(describeShape([128]), '128 units');
});

test("quantising: the layer's range to 0..255, channel by channel; maps shrunk by their maximum to fit the byte budget", () => {
  // 4x4 maps, 2 channels, channel last: channel 0 counts 0..15, channel 1 is -1 everywhere but one 3.
  const values = new Float32Array(32);
  for (let i = 0; i < 16; i++) {
    values[i * 2] = i;
    values[i * 2 + 1] = i === 5 ? 3 : -1;
  }
  const whole = quantiseView(values, [4, 4, 2]);
  assert.deepEqual([whole.height, whole.width, whole.channels, whole.factor, whole.lo, whole.hi], [4, 4, 2, 1, -1, 15]);
  assert.equal(whole.bytes.length, 32);
  assert.equal(whole.bytes[15], 255, 'the largest value');
  assert.equal(whole.bytes[16], 0, 'the smallest');
  const shrunk = quantiseView(values, [4, 4, 2], 8);
  assert.deepEqual([shrunk.height, shrunk.width, shrunk.factor], [2, 2, 2]);
  // Channel 0's 2x2 blocks: maxima 5, 7, 13, 15; channel 1: 3 in the first block, -1 elsewhere.
  const back = Array.from(shrunk.bytes, (b) => Math.round(shrunk.lo + (b / 255) * (shrunk.hi - shrunk.lo)));
  assert.deepEqual(back, [5, 7, 13, 15, 3, -1, -1, -1]);
  const vector = quantiseView(new Float32Array([0, 2, 4]), [3]);
  assert.deepEqual([vector.height, vector.width, vector.channels, Array.from(vector.bytes)], [1, 3, 1, [0, 128, 255]]);
  // The default network's first convolution (28x28x32) is the one shrunk on the page.
  assert.equal(quantiseView(new Float32Array(28 * 28 * 32), [28, 28, 32], PAGE_VIEW_MAX_BYTES).factor, 2);
  assert.equal(quantiseView(new Float32Array(14 * 14 * 64), [14, 14, 64], PAGE_VIEW_MAX_BYTES).factor, 1);
});

test('a grid of maps with transparent gaps, and a vector as cells; colours from dark to bright', () => {
  const view = quantiseView(
    Float32Array.from({ length: 2 * 2 * 3 }, (_, i) => i),
    [2, 2, 3],
  );
  const image = mapsImage(view, { columns: 2, gap: 1 });
  assert.deepEqual([image.width, image.height], [5, 5]);
  const alpha = (x: number, y: number) => image.rgba[(y * image.width + x) * 4 + 3];
  assert.equal(alpha(2, 0), 0, 'the gap between maps');
  assert.equal(alpha(0, 2), 0, 'the gap between rows');
  assert.equal(alpha(4, 4), 0, 'no fourth map');
  assert.equal(alpha(0, 0), 255);
  const cells = mapsImage(quantiseView(new Float32Array(40), [40]), { columns: 16 });
  assert.deepEqual([cells.width, cells.height], [16, 3]);
  const [dark, bright] = [colourise(new Uint8Array([0])), colourise(new Uint8Array([255]))];
  assert.ok(dark[0] + dark[1] + dark[2] < 20 && bright[0] + bright[1] + bright[2] > 600);
});

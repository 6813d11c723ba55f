/**
 * `?layers=1`: what the network computes inside for one input, as the page shows it: each
 * convolution's maps and the hidden dense layer's values, quantised and size-limited.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { loadMnist } from '../../../src/data/load.js';
import { PIXELS } from '../../../src/data/types.js';
import { layerActivations, modelViews } from '../../../src/model/activations.js';
import { PAGE_VIEW_MAX_BYTES, type LayerViewJson } from '../../../src/model/layer-views.js';
import { Predictor } from '../../../src/predict/predictor.js';
import { layersAnswer } from '../../../src/serve/routes/layers.js';
import { startServer, type RunningServer } from '../../../src/serve/server.js';
import { quickRunDir } from '../../helpers/quick-run.js';

let runDir: string;
let predictor: Predictor;
let seven: Uint8Array;

before(async () => {
  runDir = await quickRunDir();
  predictor = await Predictor.load(runDir);
  const { test: set } = await loadMnist();
  assert.equal(set.labels[0], 7);
  seven = set.images.slice(0, PIXELS);
});
after(() => predictor.close());

const decode = (view: LayerViewJson) => new Uint8Array(Buffer.from(view.data, 'base64'));

test('the views of one input: conv 1 shrunk to 14x14 by its maximum (its pooling), conv 2 whole, the dense layer; about 26 kB of JSON', () => {
  const input = predictor.preprocessPixels(seven);
  const views = layersAnswer(predictor, input);
  assert.deepEqual(
    views.map((v) => [v.label, v.kind, v.after, v.height, v.width, v.channels, v.factor]),
    [
      ['conv 1', 'conv', 'relu', 14, 14, 32, 2],
      ['conv 2', 'conv', 'batch norm + relu', 14, 14, 64, 1],
      ['dense 1', 'dense', 'batch norm + relu', 1, 128, 1, 1],
    ],
  );
  for (const view of views) {
    const bytes = decode(view);
    assert.equal(bytes.length, view.channels * view.height * view.width, view.label);
    assert.ok(bytes.length <= PAGE_VIEW_MAX_BYTES);
    assert.ok(
      bytes.some((b) => b === 255),
      `${view.label}: its largest value is 255`,
    );
    assert.ok(view.lo === 0 && view.hi > 0, 'ReLU outputs: 0 up');
  }
  const size = JSON.stringify(views).length;
  assert.ok(size > 20_000 && size < 32_000, `the layers take ${size} bytes of JSON`);

  // conv 1 shrunk by the maximum over 2x2 blocks is pool 1: the model's own values, quantised.
  const [pool] = layerActivations(predictor.model, input.input, 1, { layers: [modelViews(predictor.model)[1].layer] });
  const conv1 = decode(views[0]);
  for (let c = 0; c < 32; c++) {
    for (let p = 0; p < 196; p++) {
      const expected = (pool.values[p * 32 + c] / views[0].hi) * 255;
      assert.ok(
        Math.abs(conv1[c * 196 + p] - expected) <= 0.5 + 1e-3,
        `channel ${c} pixel ${p}: ${conv1[c * 196 + p]} vs ${expected}`,
      );
    }
  }
});

test('POST /v1/predict?layers=1 answers the prediction and the layers; without it, no layers', async () => {
  const server: RunningServer = await startServer({ runDir, host: '127.0.0.1', port: 0 });
  try {
    const ask = (query: string) =>
      fetch(`${server.url}/v1/predict${query}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ pixels: Array.from(seven) }),
      });
    const plain = await ask('');
    assert.equal(plain.status, 200);
    assert.equal((await plain.json()).layers, undefined);
    const response = await ask('?layers=1');
    assert.equal(response.status, 200, await response.clone().text());
    const body = await response.json();
    assert.equal(body.digit, 7);
    assert.deepEqual(
      body.layers.map((v: LayerViewJson) => v.label),
      ['conv 1', 'conv 2', 'dense 1'],
    );
    assert.deepEqual(body.layers, layersAnswer(predictor, predictor.preprocessPixels(seven)));
  } finally {
    await server.close();
  }
});

/**
 * The routes' response schemas serialise the answers (fast-json-stringify drops a field a schema
 * does not list): every field a route builds reaches the client, checked against what the library
 * itself answers, for a model with the not-a-digit output (notADigit, reason) and every option.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadMnist } from '../../src/data/load.js';
import { PIXELS } from '../../src/data/types.js';
import { Predictor } from '../../src/predict/predictor.js';
import { buildApp } from '../../src/serve/app.js';
import { layersAnswer } from '../../src/serve/routes/layers.js';
import { modelInfo } from '../../src/serve/routes/model.js';
import { nonDigitRunDir } from '../helpers/non-digit-run.js';

let predictor: Predictor;
let app: Awaited<ReturnType<typeof buildApp>>;
let seven: number[];

before(async () => {
  predictor = await Predictor.load(await nonDigitRunDir());
  app = await buildApp({ predictor });
  seven = Array.from((await loadMnist()).test.images.subarray(0, PIXELS));
});
after(async () => {
  await app.close();
  await predictor.close();
});

/** What a value is once sent as JSON (undefined fields gone). */
const asJson = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

test('/v1/predict and /v1/predict/batch answer every field of the prediction, the input and the layers', async () => {
  const blank = new Array(PIXELS).fill(0);
  for (const pixels of [seven, blank]) {
    const input = predictor.preprocessPixels(Uint8Array.from(pixels));
    const [prediction] = await predictor.predict([input]);
    assert.ok('notADigit' in prediction, 'the model has the not-a-digit output');
    const answer = await app.inject({ method: 'POST', url: '/v1/predict?explain=1&layers=1', payload: { pixels } });
    assert.equal(answer.statusCode, 200, answer.body);
    assert.deepEqual(
      answer.json(),
      asJson({ ...prediction, input: Array.from(input.pixels), layers: layersAnswer(predictor, input) }),
    );
    const batch = await app.inject({
      method: 'POST',
      url: '/v1/predict/batch?explain=1',
      payload: { items: [{ pixels }] },
    });
    assert.deepEqual(batch.json(), asJson({ predictions: [{ ...prediction, input: Array.from(input.pixels) }] }));
  }
  const [blankAnswer] = await predictor.predict([predictor.preprocessPixels(Uint8Array.from(blank))]);
  assert.equal(blankAnswer.digit, null);
  assert.equal(blankAnswer.reason, 'blank');
});

test('/v1/model answers every field it builds', async () => {
  const model = (await app.inject({ method: 'GET', url: '/v1/model' })).json<Record<string, unknown>>();
  assert.deepEqual(model, asJson(modelInfo(predictor, predictor.metadata!)));
  assert.equal(Object.keys(model).length, 15);
  assert.equal(typeof model.notADigitBelow, 'number', "the run's fitted not-a-digit threshold");
});

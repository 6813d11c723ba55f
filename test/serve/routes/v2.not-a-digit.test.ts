/**
 * The Open Inference Protocol for a model trained with non-digits (test/helpers/non-digit-run.ts):
 * its metadata lists the `not_a_digit` output, and an inference gives, for each input, the
 * probability of "not a digit" that /v1 answers carry, with digit -1 where the rule refuses.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify, { type FastifyInstance } from 'fastify';
import { loadMnist, PIXELS } from '../../../src/data/index.js';
import { drawNonDigit, nonDigitRng } from '../../../src/image/non-digits.js';
import type { Preprocessed } from '../../../src/image/preprocess.js';
import { Predictor } from '../../../src/predict/predictor.js';
import { V2_NAMES } from '../../../src/serve/routes/v2-schemas.js';
import { DEFAULT_IMAGE_RULES } from '../../../src/serve/inputs.js';
import { V2_PREFIX, v2Routes } from '../../../src/serve/routes/v2.js';
import { nonDigitRunDir } from '../../helpers/non-digit-run.js';

let predictor: Predictor;
let app: FastifyInstance;
let base: string;

before(async () => {
  predictor = await Predictor.load(await nonDigitRunDir());
  app = Fastify({ logger: false });
  await app.register(v2Routes, {
    prefix: V2_PREFIX,
    predictor,
    rules: DEFAULT_IMAGE_RULES,
    modelName: 'mnist',
    isReady: () => true,
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});

after(async () => {
  await app?.close();
  await predictor?.close();
});

test('a model with the 11th output gives not_a_digit: in its metadata, and per input, as /v1 answers do', async () => {
  const metadata = (await (await fetch(`${base}/v2/models/mnist`)).json()) as {
    outputs: { name: string; datatype: string; shape: number[] }[];
  };
  assert.deepEqual(
    metadata.outputs.find((o) => o.name === V2_NAMES.notADigit),
    { name: V2_NAMES.notADigit, datatype: 'FP32', shape: [-1] },
  );

  // Two MNIST test digits and two scribbles, as the model's own input.
  const mnist = (await loadMnist()).test;
  const inputs: Preprocessed[] = [0, 1].map((i) =>
    predictor.preprocessPixels(mnist.images.subarray(i * PIXELS, (i + 1) * PIXELS)),
  );
  for (let n = 0; inputs.length < 4; n++) {
    const picture = predictor.preprocess(await drawNonDigit('scribble', 'test', nonDigitRng('test', 1, 'scribble', n)));
    if (!picture.reason) inputs.push(picture);
  }
  const expected = await predictor.predict(inputs);
  const data = inputs.flatMap((p) => Array.from(p.input));
  const response = await fetch(`${base}/v2/models/mnist/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ inputs: [{ name: V2_NAMES.input, datatype: 'FP32', shape: [4, 28, 28, 1], data }] }),
  });
  assert.equal(response.status, 200);
  const answer = (await response.json()) as { outputs: { name: string; shape: number[]; data: number[] }[] };
  const output = (name: string) => answer.outputs.find((o) => o.name === name)!;
  assert.deepEqual(output(V2_NAMES.notADigit).shape, [4]);
  output(V2_NAMES.notADigit).data.forEach((p, i) =>
    assert.ok(Math.abs(p - expected[i].notADigit!) < 1e-6, `${i}: ${p} vs ${expected[i].notADigit}`),
  );
  assert.deepEqual(
    output(V2_NAMES.digit).data,
    expected.map((p) => p.digit ?? -1),
  );
  // Not vacuous: the digits are read, and the scribbles' not-a-digit probability is far above the digits'.
  assert.deepEqual(output(V2_NAMES.digit).data.slice(0, 2), [mnist.labels[0], mnist.labels[1]]);
  assert.ok(
    Math.min(expected[2].notADigit!, expected[3].notADigit!) >
      10 * Math.max(expected[0].notADigit!, expected[1].notADigit!),
    JSON.stringify(expected.map((p) => p.notADigit)),
  );
});

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { basename } from 'node:path';
import { gzipSync } from 'node:zlib';
import Fastify, { type FastifyInstance } from 'fastify';
import multipart from '@fastify/multipart';
import sharp from 'sharp';
import { loadMnist, PIXELS } from '../../../src/data/index.js';
import { Predictor } from '../../../src/predict/predictor.js';
import type { Prediction } from '../../../src/predict/interpret.js';
import { errorBody, toApiError } from '../../../src/serve/errors.js';
import { V2_NAMES } from '../../../src/serve/routes/v2-schemas.js';
import { DEFAULT_IMAGE_RULES } from '../../../src/serve/inputs.js';
import { registerOpenApi } from '../../../src/serve/openapi.js';
import { predictRoutes } from '../../../src/serve/routes/predict.js';
import { defaultModelName, V2_PREFIX, v2Routes } from '../../../src/serve/routes/v2.js';
import { VERSION } from '../../../src/util/version.js';
import { quickRunDir } from '../../helpers/quick-run.js';

const MODEL = 'mnist';
const BODY_LIMIT = 5 * 1024 * 1024;

let runDir: string;
let predictor: Predictor;
let app: FastifyInstance;
let port: number;
const readiness = { ready: true };
const routes: { method: string; url: string }[] = [];
/** The first MNIST test images (28x28 bytes) and their labels. */
let images: Uint8Array[];
let labels: number[];
/** What the one inference path answers for them, as /v1/predict does for {pixels}. */
let expected: Prediction[];

before(async () => {
  runDir = await quickRunDir();
  predictor = await Predictor.load(runDir);
  const data = await loadMnist();
  images = Array.from({ length: 8 }, (_, i) => data.test.images.slice(i * PIXELS, (i + 1) * PIXELS));
  labels = Array.from(data.test.labels.subarray(0, 8));
  expected = await predictor.predict(images.map((p) => predictor.preprocessPixels(p)));

  // Set up as serve/app.ts does (its own error shape, 404 handler, parsers and /v1 routes at the
  // root) to show that the v2 plugin answers in the protocol's shape regardless.
  app = Fastify({ bodyLimit: BODY_LIMIT, logger: false });
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser(['image/png', 'image/jpeg', 'image/webp'], { parseAs: 'buffer' }, (_request, body, done) =>
    done(null, body),
  );
  await app.register(multipart);
  app.setErrorHandler((err: Error & { code?: string }, _request, reply) => {
    const apiError = toApiError(err, BODY_LIMIT);
    void reply.status(apiError.status).send(errorBody(apiError));
  });
  app.setNotFoundHandler(
    (_request, reply) =>
      void reply.status(404).send({ error: { status: 404, code: 'not_found', message: 'v1 style' } }),
  );
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat())
      if (method !== 'HEAD' && route.url.startsWith('/v2')) routes.push({ method, url: route.url });
  });
  await registerOpenApi(app);
  await app.register(predictRoutes, { predictor, rules: DEFAULT_IMAGE_RULES });
  await app.register(v2Routes, {
    prefix: V2_PREFIX,
    predictor,
    rules: DEFAULT_IMAGE_RULES,
    modelName: MODEL,
    isReady: () => readiness.ready,
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  port = typeof address === 'object' && address ? address.port : 0;
});

after(async () => {
  await app?.close();
  await predictor?.close();
});

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  json: () => any;
}

/** A raw HTTP request with exactly these headers (no content type unless given), as a client library sends it. */
function send(
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: Buffer | string } = {},
): Promise<Answer> {
  const body = options.body === undefined ? undefined : Buffer.from(options.body);
  const headers = { ...(body ? { 'content-length': String(body.length) } : {}), ...options.headers };
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const all = Buffer.concat(chunks);
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: all,
          json: () => JSON.parse(all.toString('utf8')),
        });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

const postJson = (
  path: string,
  value: unknown,
  headers: Record<string, string> = { 'content-type': 'application/json' },
) => send('POST', path, { headers, body: typeof value === 'string' ? value : JSON.stringify(value) });

/** The model's input for MNIST-form pixels, by the run's spec (pixel * scale + offset), as float32. */
const toValues = (pixels: Uint8Array) =>
  Array.from(pixels, (p) => Math.fround(p * predictor.spec.scale + predictor.spec.offset));
const flatValues = (count: number) => images.slice(0, count).flatMap(toValues);
/** The same values nested as [N][28][28][1]. */
const nestedValues = (count: number) =>
  images.slice(0, count).map((img) => {
    const v = toValues(img);
    return Array.from({ length: 28 }, (_, y) => Array.from({ length: 28 }, (_, x) => [v[y * 28 + x]]));
  });

/** A valid request for one image. */
const input1 = () => ({ inputs: [{ name: 'input', shape: [1, 28, 28, 1], datatype: 'FP32', data: flatValues(1) }] });

const expectedProbabilities = (count: number) => expected.slice(0, count).flatMap((p) => p.probabilities);
const expectedDigits = (count: number) => expected.slice(0, count).map((p) => p.digit ?? -1);

/** The protocol's error form: that status, a JSON body that is exactly {"error": "..."}. */
async function expectError(answer: Answer | Promise<Answer>, status: number, message: RegExp) {
  const a = await answer;
  assert.equal(a.status, status, a.body.toString());
  assert.match(String(a.headers['content-type']), /application\/json/);
  const body = a.json();
  assert.deepEqual(Object.keys(body), ['error']);
  assert.equal(typeof body.error, 'string');
  assert.match(body.error, message);
  assert.doesNotMatch(body.error, /at .*\.(ts|js):\d+/, 'no stack trace');
}

/** Triton's binary answer: the JSON (Inference-Header-Content-Length bytes), then each binary output in order. */
function parseBinaryAnswer(a: Answer) {
  const length = Number(a.headers['inference-header-content-length']);
  assert.ok(Number.isInteger(length) && length > 0, 'Inference-Header-Content-Length');
  const json = JSON.parse(a.body.subarray(0, length).toString('utf8'));
  let at = length;
  const tensors: Record<string, number[]> = {};
  for (const output of json.outputs) {
    const size = output.parameters?.binary_data_size;
    if (size === undefined) continue;
    const bytes = a.body.subarray(at, at + size);
    at += size;
    tensors[output.name] =
      output.datatype === 'INT64'
        ? Array.from({ length: size / 8 }, (_, i) => Number(bytes.readBigInt64LE(i * 8)))
        : Array.from({ length: size / 4 }, (_, i) => bytes.readFloatLE(i * 4));
  }
  assert.equal(at, a.body.length, 'nothing after the last binary output');
  return { json, tensors };
}

const png = (pixels: Uint8Array) =>
  sharp(Buffer.from(pixels), { raw: { width: 28, height: 28, channels: 1 } })
    .png()
    .toBuffer();

// ------------------------------------------------------------------ health and metadata

test('health, server metadata, model metadata and readiness answer as the protocol says', async () => {
  const live = await send('GET', '/v2/health/live');
  assert.equal(live.status, 200);
  assert.deepEqual(live.json(), { live: true });
  const ready = await send('GET', '/v2/health/ready');
  assert.equal(ready.status, 200);
  assert.deepEqual(ready.json(), { ready: true });

  for (const path of ['/v2', '/v2/']) {
    const server = await send('GET', path);
    assert.equal(server.status, 200, path);
    assert.deepEqual(server.json(), {
      name: 'mnist-cnn',
      version: VERSION,
      extensions: ['binary_tensor_data', 'image_bytes_input'],
    });
  }

  const model = {
    name: MODEL,
    versions: ['1'],
    platform: 'tensorflowjs_layers',
    inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 28, 28, 1] }],
    outputs: [
      { name: 'probabilities', datatype: 'FP32', shape: [-1, 10] },
      { name: 'digit', datatype: 'INT64', shape: [-1] },
    ],
  };
  for (const path of [`/v2/models/${MODEL}`, `/v2/models/${MODEL}/versions/1`]) {
    const meta = await send('GET', path);
    assert.equal(meta.status, 200, path);
    assert.deepEqual(meta.json(), model);
    const modelReady = await send('GET', `${path}/ready`);
    assert.equal(modelReady.status, 200);
    assert.deepEqual(modelReady.json(), { name: MODEL, ready: true });
  }
});

test('while draining, the ready routes answer 503 (liveness stays 200)', async () => {
  readiness.ready = false;
  try {
    const ready = await send('GET', '/v2/health/ready');
    assert.equal(ready.status, 503);
    assert.deepEqual(ready.json(), { ready: false });
    const modelReady = await send('GET', `/v2/models/${MODEL}/ready`);
    assert.equal(modelReady.status, 503);
    assert.deepEqual(modelReady.json(), { name: MODEL, ready: false });
    assert.equal((await send('GET', '/v2/health/live')).status, 200);
  } finally {
    readiness.ready = true;
  }
});

test('an unknown model or version is a 404 {"error"} on every model route; an unknown /v2 route too', async () => {
  for (const path of [
    '/v2/models/resnet50',
    '/v2/models/resnet50/ready',
    `/v2/models/${MODEL}/versions/2`,
    `/v2/models/${MODEL}/versions/2/ready`,
  ]) {
    await expectError(send('GET', path), 404, /unknown (model 'resnet50'|version '2')/);
  }
  await expectError(
    postJson('/v2/models/resnet50/infer', {
      inputs: [{ name: 'input', shape: [1, 28, 28, 1], datatype: 'FP32', data: flatValues(1) }],
    }),
    404,
    /unknown model 'resnet50': this server serves 'mnist'/,
  );
  await expectError(postJson(`/v2/models/${MODEL}/versions/7/infer`, { inputs: [] }), 404, /unknown version '7'/);
  await expectError(send('GET', '/v2/repository/index'), 404, /no route for GET \/v2\/repository\/index/);
  await expectError(send('GET', `/v2/models/${MODEL}/infer`), 404, /no route/);
});

test("the default model name is the run folder's name; a name with a slash is refused", async () => {
  assert.equal(defaultModelName(predictor), basename(runDir));
  for (const modelName of ['a/b', '']) {
    const other = Fastify();
    await assert.rejects(
      async () => other.register(v2Routes, { predictor, rules: DEFAULT_IMAGE_RULES, modelName, isReady: () => true }),
      /model name/,
    );
    await other.close();
  }
});

// ------------------------------------------------------------------ inference, JSON

test("the protocol's own example request, as written, is refused in its error form (this model has one FP32 input)", async () => {
  // Verbatim from the Open Inference Protocol's "Inference Request Examples" (inference_rest.md).
  const example = `{
      "id" : "42",
      "inputs" : [
        {
          "name" : "input0",
          "shape" : [ 2, 2 ],
          "datatype" : "UINT32",
          "data" : [ 1, 2, 3, 4 ]
        },
        {
          "name" : "input1",
          "shape" : [ 3 ],
          "datatype" : "BOOL",
          "data" : [ true ]
        }
      ],
      "outputs" : [
        {
          "name" : "output0"
        }
      ]
    }`;
  await expectError(
    postJson(`/v2/models/${MODEL}/infer`, example),
    400,
    /2 input tensors: model 'mnist' takes one, 'input'/,
  );
  const oneInput = JSON.parse(example);
  oneInput.inputs = [oneInput.inputs[0]];
  await expectError(
    postJson(`/v2/models/${MODEL}/infer`, oneInput),
    400,
    /unknown input "input0": model 'mnist' takes 'input' \(FP32 \[-1,28,28,1\]\)/,
  );
});

test("the protocol's example adapted to this model: id echoed, only the output asked for, answers equal the one inference path's", async () => {
  const body = `{
      "id" : "42",
      "inputs" : [
        {
          "name" : "input",
          "shape" : [ 2, 28, 28, 1 ],
          "datatype" : "FP32",
          "data" : ${JSON.stringify(flatValues(2))}
        }
      ],
      "outputs" : [
        {
          "name" : "probabilities"
        }
      ]
    }`;
  const a = await postJson(`/v2/models/${MODEL}/infer`, body);
  assert.equal(a.status, 200, a.body.toString());
  assert.match(String(a.headers['content-type']), /^application\/json/);
  assert.deepEqual(a.json(), {
    model_name: MODEL,
    model_version: '1',
    id: '42',
    outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [2, 10], data: expectedProbabilities(2) }],
  });
});

test('all outputs by default; flat and nested data give the same answers, equal to POST /v1/predict/batch', async () => {
  const n = images.length;
  const flat = await postJson(`/v2/models/${MODEL}/infer`, {
    inputs: [{ name: 'input', shape: [n, 28, 28, 1], datatype: 'FP32', data: flatValues(n) }],
  });
  const nested = await postJson(`/v2/models/${MODEL}/versions/1/infer`, {
    inputs: [{ name: 'input', shape: [n, 28, 28, 1], datatype: 'FP32', data: nestedValues(n) }],
  });
  assert.equal(flat.status, 200, flat.body.toString());
  assert.equal(nested.status, 200, nested.body.toString());
  assert.deepEqual(nested.json(), flat.json());
  const answer = flat.json();
  assert.equal(answer.id, undefined, 'no id asked, none given');
  assert.deepEqual(answer.outputs, [
    { name: 'probabilities', datatype: 'FP32', shape: [n, 10], data: expectedProbabilities(n) },
    { name: 'digit', datatype: 'INT64', shape: [n], data: expectedDigits(n) },
  ]);

  const v1 = await postJson('/v1/predict/batch', { items: images.map((p) => ({ pixels: Array.from(p) })) });
  assert.equal(v1.status, 200);
  const v1Predictions: Prediction[] = v1.json().predictions;
  assert.deepEqual(
    answer.outputs[0].data,
    v1Predictions.flatMap((p) => p.probabilities),
  );
  assert.deepEqual(
    answer.outputs[1].data,
    v1Predictions.map((p) => p.digit ?? -1),
  );
  // The quick model reads these eight test digits right.
  assert.deepEqual(answer.outputs[1].data, labels);
});

test('a blank input is not a digit: digit -1, as /v1 answers digit null', async () => {
  const a = await postJson(`/v2/models/${MODEL}/infer`, {
    inputs: [{ name: 'input', shape: [1, 28, 28, 1], datatype: 'FP32', data: new Array(784).fill(0) }],
    outputs: [{ name: 'digit' }],
  });
  assert.equal(a.status, 200);
  assert.deepEqual(a.json().outputs, [{ name: 'digit', datatype: 'INT64', shape: [1], data: [-1] }]);
});

test('tritonclient.http with binary_data=False: its exact JSON, no content type, answers in JSON', async () => {
  // What `InferenceServerClient.infer("mnist", [inp], outputs=[...], request_id="7")` sends after
  // `inp = InferInput("input", [3, 28, 28, 1], "FP32"); inp.set_data_from_numpy(x, binary_data=False)`
  // and `InferRequestedOutput(name, binary_data=False)`: rapidjson, no spaces, floats with a decimal
  // point, keys in this order, and no Content-Type header (geventhttpclient sends none).
  const pyFloat = (v: number) => (Number.isInteger(v) ? v.toFixed(1) : String(v));
  const data = `[${flatValues(3).map(pyFloat).join(',')}]`;
  const body = `{"id":"7","inputs":[{"name":"input","shape":[3,28,28,1],"datatype":"FP32","data":${data}}],"outputs":[{"name":"probabilities","parameters":{"binary_data":false}},{"name":"digit","parameters":{"binary_data":false}}]}`;
  const a = await send('POST', `/v2/models/${MODEL}/infer`, {
    headers: { 'user-agent': 'python/gevent-http-client-2.0' },
    body,
  });
  assert.equal(a.status, 200, a.body.toString());
  assert.equal(a.headers['inference-header-content-length'], undefined, 'no binary part');
  const answer = a.json();
  assert.equal(answer.id, '7');
  assert.deepEqual(answer.outputs, [
    { name: 'probabilities', datatype: 'FP32', shape: [3, 10], data: expectedProbabilities(3) },
    { name: 'digit', datatype: 'INT64', shape: [3], data: expectedDigits(3) },
  ]);
});

test('tritonclient.http defaults: binary FP32 input, no outputs named (binary_data_output), binary answer', async () => {
  // `inp.set_data_from_numpy(x)` (binary_data=True) and `client.infer("mnist", [inp])`.
  const values = flatValues(3);
  const raw = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => raw.writeFloatLE(v, i * 4));
  const json = `{"inputs":[{"name":"input","shape":[3,28,28,1],"datatype":"FP32","parameters":{"binary_data_size":${raw.length}}}],"parameters":{"binary_data_output":true}}`;
  const a = await send('POST', `/v2/models/${MODEL}/infer`, {
    headers: { 'inference-header-content-length': String(Buffer.byteLength(json)) },
    body: Buffer.concat([Buffer.from(json), raw]),
  });
  assert.equal(a.status, 200, a.body.toString());
  assert.equal(a.headers['content-type'], 'application/octet-stream');
  const { json: answer, tensors } = parseBinaryAnswer(a);
  assert.deepEqual(answer, {
    model_name: MODEL,
    model_version: '1',
    outputs: [
      { name: 'probabilities', datatype: 'FP32', shape: [3, 10], parameters: { binary_data_size: 120 } },
      { name: 'digit', datatype: 'INT64', shape: [3], parameters: { binary_data_size: 24 } },
    ],
  });
  assert.deepEqual(tensors.probabilities, expectedProbabilities(3).map(Math.fround));
  assert.deepEqual(tensors.digit, expectedDigits(3));
});

test("Triton's binary data example adapted: octet-stream, one output binary and one JSON, in the order asked", async () => {
  const values = flatValues(2);
  const raw = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => raw.writeFloatLE(v, i * 4));
  const json = JSON.stringify({
    model_name: MODEL,
    inputs: [{ name: 'input', shape: [2, 28, 28, 1], datatype: 'FP32', parameters: { binary_data_size: raw.length } }],
    outputs: [
      { name: 'digit', parameters: { binary_data: false } },
      { name: 'probabilities', parameters: { binary_data: true } },
    ],
  });
  const a = await send('POST', `/v2/models/${MODEL}/infer`, {
    headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(json.length) },
    body: Buffer.concat([Buffer.from(json), raw]),
  });
  assert.equal(a.status, 200, a.body.toString());
  const { json: answer, tensors } = parseBinaryAnswer(a);
  assert.deepEqual(answer.outputs, [
    { name: 'digit', datatype: 'INT64', shape: [2], data: expectedDigits(2) },
    { name: 'probabilities', datatype: 'FP32', shape: [2, 10], parameters: { binary_data_size: 80 } },
  ]);
  assert.deepEqual(tensors.probabilities, expectedProbabilities(2).map(Math.fround));
});

test('curl -d (a form content type) and a gzip body are read as the protocol JSON', async () => {
  const request = {
    inputs: [{ name: 'input', shape: [1, 28, 28, 1], datatype: 'FP32', data: flatValues(1) }],
    outputs: [{ name: 'digit' }],
  };
  const form = await postJson(`/v2/models/${MODEL}/infer`, request, {
    'content-type': 'application/x-www-form-urlencoded',
  });
  assert.equal(form.status, 200, form.body.toString());
  assert.deepEqual(form.json().outputs[0].data, expectedDigits(1));
  const gz = await send('POST', `/v2/models/${MODEL}/infer`, {
    headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
    body: gzipSync(JSON.stringify(request)),
  });
  assert.equal(gz.status, 200, gz.body.toString());
  assert.deepEqual(gz.json().outputs[0].data, expectedDigits(1));
});

// ------------------------------------------------------------------ the image extension

test('extension: BYTES "image" inputs, base64 PNGs in JSON, are decoded and preprocessed with the run\'s spec', async () => {
  const files = await Promise.all(images.slice(0, 3).map(png));
  const want = await predictor.predict(
    await Promise.all(files.map((f, i) => predictor.preprocessBytes(f, `image ${i}`))),
  );
  const a = await postJson(`/v2/models/${MODEL}/infer`, {
    id: 'png',
    inputs: [{ name: 'image', shape: [3], datatype: 'BYTES', data: files.map((f) => f.toString('base64')) }],
  });
  assert.equal(a.status, 200, a.body.toString());
  const answer = a.json();
  assert.equal(answer.id, 'png');
  assert.deepEqual(answer.outputs, [
    { name: 'probabilities', datatype: 'FP32', shape: [3, 10], data: want.flatMap((p) => p.probabilities) },
    { name: 'digit', datatype: 'INT64', shape: [3], data: want.map((p) => p.digit ?? -1) },
  ]);
  assert.deepEqual(answer.outputs[1].data, labels.slice(0, 3));
  // The same files through /v1/predict (image body): the same answers.
  for (const [i, file] of files.entries()) {
    const v1 = await send('POST', '/v1/predict', { headers: { 'content-type': 'image/png' }, body: file });
    assert.deepEqual(v1.json().probabilities, want[i].probabilities);
  }
});

test('extension: BYTES "image" as binary data (tritonclient serialize_byte_tensor: 4-byte length, then the file)', async () => {
  const files = await Promise.all(images.slice(3, 5).map(png));
  const raw = Buffer.concat(files.flatMap((f) => [Buffer.from(Uint32Array.of(f.length).buffer), f]));
  const json = `{"inputs":[{"name":"image","shape":[2],"datatype":"BYTES","parameters":{"binary_data_size":${raw.length}}}],"outputs":[{"name":"digit","parameters":{"binary_data":true}}]}`;
  const a = await send('POST', `/v2/models/${MODEL}/infer`, {
    headers: { 'inference-header-content-length': String(json.length) },
    body: Buffer.concat([Buffer.from(json), raw]),
  });
  assert.equal(a.status, 200, a.body.toString());
  assert.deepEqual(parseBinaryAnswer(a).tensors.digit, labels.slice(3, 5));
});

// ------------------------------------------------------------------ errors

test('every malformed request is a 400 {"error"} naming what is wrong', async () => {
  const infer = `/v2/models/${MODEL}/infer`;
  const input = (fields: Record<string, unknown>) => ({
    inputs: [{ name: 'input', shape: [1, 28, 28, 1], datatype: 'FP32', data: flatValues(1), ...fields }],
  });
  const cases: [unknown, RegExp][] = [
    [input({ datatype: 'FP64' }), /input 'input' has datatype "FP64"; it must be FP32/],
    [input({ datatype: 'INT32' }), /datatype "INT32"; it must be FP32/],
    [input({ datatype: undefined }), /datatype missing; it must be FP32/],
    [input({ shape: [1, 784] }), /shape \[1,784\]; it must be \[-1,28,28,1\] with the batch size from 1 to 256/],
    [input({ shape: [1, 28, 28] }), /shape \[1,28,28\]/],
    [input({ shape: [0, 28, 28, 1], data: [] }), /shape \[0,28,28,1\]/],
    [input({ shape: [257, 28, 28, 1] }), /shape \[257,28,28,1\]/],
    [input({ shape: [1.5, 28, 28, 1] }), /shape \[1.5,28,28,1\]/],
    [input({ shape: '1,28,28,1' }), /shape "1,28,28,1"/],
    [input({ shape: [2, 28, 28, 1] }), /input 'input' has 784 values; shape \[2,28,28,1\] needs 1568/],
    [input({ data: flatValues(1).slice(1) }), /has 783 values; shape \[1,28,28,1\] needs 784/],
    [input({ data: [...flatValues(1).slice(1), 'x'] }), /element 783 is "x"; FP32 values must be finite numbers/],
    [input({ data: [...flatValues(1).slice(1), null] }), /element 783 is null/],
    [input({ data: 'AAAA' }), /"data" is "AAAA", not a list/],
    [input({ data: undefined }), /inputs\[0\] has no "data"/],
    [input({ name: 'images' }), /unknown input "images": model 'mnist' takes 'input'/],
    [{ inputs: [] }, /"inputs" is \[\]/],
    [{}, /"inputs" is missing/],
    [{ inputs: [input({}).inputs[0], input({}).inputs[0]] }, /2 input tensors/],
    [
      { ...input({}), outputs: [{ name: 'logits' }] },
      /unknown output 'logits': model 'mnist' gives 'probabilities', 'digit'/,
    ],
    [
      { ...input({}), outputs: [{ name: 'probabilities', parameters: { classification: 3 } }] },
      /classification extension is not supported/,
    ],
    [{ ...input({}), outputs: 'digit' }, /"outputs" is "digit", not a list/],
    [{ ...input({}), parameters: { binary_data_output: 'yes' } }, /binary_data_output is "yes", not true or false/],
    [{ ...input({}), id: 42 }, /"id" is 42; it must be a string/],
    [input({ parameters: { binary_data_size: 3136 } }), /both "data" and parameters.binary_data_size/],
    [
      input({ data: undefined, parameters: { binary_data_size: 3136 } }),
      /needs the Inference-Header-Content-Length header/,
    ],
    [input({ parameters: { shared_memory_region: 'r' } }), /shared memory inputs are not supported/],
    [[1, 2, 3], /must be an inference request object/],
    [
      { inputs: [{ name: 'image', shape: [1], datatype: 'BYTES', data: ['not base64!'] }] },
      /input 'image': element 0 is not base64/,
    ],
    [
      { inputs: [{ name: 'image', shape: [1], datatype: 'BYTES', data: [Buffer.from('hello').toString('base64')] }] },
      /input 'image' element 0: cannot be read as an image/,
    ],
    [{ inputs: [{ name: 'image', shape: [1], datatype: 'BYTES', data: [''] }] }, /input 'image' element 0 is empty/],
    [
      { inputs: [{ name: 'image', shape: [2], datatype: 'BYTES', data: ['AAAA'] }] },
      /input 'image' has 1 values; shape \[2\] needs 2/,
    ],
    [
      { inputs: [{ name: 'image', shape: [1], datatype: 'FP32', data: [0] }] },
      /input 'image' has datatype "FP32"; it must be BYTES/,
    ],
  ];
  for (const [body, message] of cases) await expectError(postJson(infer, body), 400, message);
});

test('bad JSON, an empty body, and non-finite values are 400 {"error"}', async () => {
  const infer = `/v2/models/${MODEL}/infer`;
  await expectError(postJson(infer, '{"inputs": ['), 400, /the body is not valid JSON/);
  await expectError(send('POST', infer, { headers: { 'content-type': 'application/json' } }), 400, /the body is empty/);
  // Python's json.dumps writes NaN and Infinity, which are not JSON.
  const withNaN = JSON.stringify(input1()).replace(/^(.*?"data":\[)0/, '$1NaN');
  assert.match(withNaN, /NaN/);
  await expectError(postJson(infer, withNaN), 400, /not valid JSON.*values must be finite/);
  // Binary data can hold NaN and infinities: refused.
  for (const bad of [Number.NaN, Number.POSITIVE_INFINITY]) {
    const raw = Buffer.alloc(784 * 4);
    raw.writeFloatLE(bad, 4 * 10);
    const json = JSON.stringify({
      inputs: [
        { name: 'input', shape: [1, 28, 28, 1], datatype: 'FP32', parameters: { binary_data_size: raw.length } },
      ],
    });
    await expectError(
      send('POST', infer, {
        headers: { 'inference-header-content-length': String(json.length) },
        body: Buffer.concat([Buffer.from(json), raw]),
      }),
      400,
      /element 10 is (NaN|Infinity); values must be finite/,
    );
  }
});

test('binary data that does not add up, bad encodings and oversized bodies are refused in the error form', async () => {
  const infer = `/v2/models/${MODEL}/infer`;
  const json = JSON.stringify({
    inputs: [{ name: 'input', shape: [1, 28, 28, 1], datatype: 'FP32', parameters: { binary_data_size: 3136 } }],
  });
  const raw = Buffer.alloc(3136);
  const binary = (header: string, body: Buffer) =>
    send('POST', infer, { headers: { 'inference-header-content-length': header }, body });
  await expectError(
    binary(String(json.length), Buffer.concat([Buffer.from(json), raw.subarray(8)])),
    400,
    /binary part of the body is 3128 bytes; inputs\[0\].parameters.binary_data_size says 3136/,
  );
  await expectError(
    binary('99999', Buffer.concat([Buffer.from(json), raw])),
    400,
    /Inference-Header-Content-Length is "99999"/,
  );
  await expectError(
    binary('abc', Buffer.concat([Buffer.from(json), raw])),
    400,
    /Inference-Header-Content-Length is "abc"/,
  );
  const small = JSON.stringify({
    inputs: [{ name: 'input', shape: [1, 28, 28, 1], datatype: 'FP32', parameters: { binary_data_size: 3132 } }],
  });
  await expectError(
    binary(String(small.length), Buffer.concat([Buffer.from(small), raw.subarray(4)])),
    400,
    /binary_data_size is 3132 bytes; shape \[1,28,28,1\] of FP32 needs 3136/,
  );
  const plain = JSON.stringify(input1());
  await expectError(
    binary(String(plain.length), Buffer.concat([Buffer.from(plain), raw])),
    400,
    /3136 bytes after the JSON part, but no input has parameters.binary_data_size/,
  );
  const bytesJson = JSON.stringify({
    inputs: [{ name: 'image', shape: [1], datatype: 'BYTES', parameters: { binary_data_size: 6 } }],
  });
  await expectError(
    binary(String(bytesJson.length), Buffer.concat([Buffer.from(bytesJson), Buffer.from([9, 0, 0, 0, 1, 2])])),
    400,
    /binary BYTES element 0 says 9 bytes, but only 2 remain/,
  );

  await expectError(
    send('POST', infer, { headers: { 'content-encoding': 'br' }, body: JSON.stringify(input1()) }),
    415,
    /content encoding br is not accepted/,
  );
  await expectError(
    send('POST', infer, { headers: { 'content-encoding': 'gzip' }, body: JSON.stringify(input1()) }),
    400,
    /not valid gzip/,
  );
  await expectError(postJson(infer, Buffer.alloc(BODY_LIMIT + 1, 32).toString()), 413, /larger than the limit/);
});

// ------------------------------------------------------------------ OpenAPI

test('the OpenAPI document (made by @fastify/swagger from the route schemas) describes exactly the registered v2 routes', () => {
  const paths = (app.swagger() as { paths: Record<string, Record<string, { summary?: unknown }>> }).paths;
  const v2Paths = Object.entries(paths).filter(([path]) => path.startsWith('/v2'));
  const documented = v2Paths.flatMap(([path, item]) =>
    Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`),
  );
  const registered = routes.map(({ method, url }) => `${method} ${url.replace(/\/$/, '').replace(/:(\w+)/g, '{$1}')}`);
  assert.deepEqual([...new Set(registered)].sort(), [...documented].sort());
  for (const [, item] of v2Paths) for (const op of Object.values(item)) assert.equal(typeof op.summary, 'string');
  assert.deepEqual(V2_NAMES.extensions, ['binary_tensor_data', 'image_bytes_input']);
});

/**
 * The Open Inference Protocol (KServe v2, Triton's HTTP/REST API) beside /v1, so that a client
 * written for Triton or KServe works unchanged:
 *
 *   GET  /v2                                   server metadata {name, version, extensions}
 *   GET  /v2/health/live, /v2/health/ready     {"live": true}, {"ready": true} (503 while draining)
 *   GET  /v2/models/{name}[/versions/1]        model metadata: platform, input and output tensors
 *   GET  /v2/models/{name}[/versions/1]/ready  {"name", "ready"} (503 while draining)
 *   POST /v2/models/{name}[/versions/1]/infer  inference
 *
 * Inputs (one tensor per request, N from 1 to MAX_BATCH):
 * - "input" FP32 [N, 28, 28, 1]: the model's own input, already preprocessed (a 28x28 white-on-black
 *   MNIST-form image, pixel * spec.scale + spec.offset of the run's spec). `data` flat row-major or
 *   nested as the shape. It reaches the model as given, through the one inference path (Predictor).
 * - "image" BYTES [N]: this server's extension ("image_bytes_input"): image files (PNG, JPEG, WebP),
 *   base64 strings in JSON or the raw files as binary data; each is decoded and put through the
 *   run's preprocessing, as POST /v1/predict does.
 * Outputs: "probabilities" FP32 [N, 10] and "digit" INT64 [N], where -1 means "not a digit"
 * (/v1's `digit: null`: blank, no dominant stroke, or below the minimum confidence).
 *
 * Triton's binary tensor data extension is implemented (tritonclient sends and asks for binary
 * tensors by default): `Inference-Header-Content-Length` gives the JSON part's length, inputs with
 * `parameters.binary_data_size` follow it in order, and outputs asked for with
 * `parameters.binary_data` (or the request's `parameters.binary_data_output`) come back the same
 * way. Any content type is read as the protocol's body (tritonclient sends none, `curl -d` sends
 * a form type); gzip and deflate bodies are accepted. Errors are the protocol's `{"error": "..."}`,
 * including Fastify's own (bad JSON, body too large) and unknown /v2 routes: the routes live in an
 * encapsulated plugin with its own error handler, not-found handler and body parser.
 */
import { basename } from 'node:path';
import { gunzipSync, inflateSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { NUM_CLASSES } from '../../data/types.js';
import type { Preprocessed } from '../../image/preprocess.js';
import type { Prediction } from '../../predict/interpret.js';
import type { Predictor } from '../../predict/predictor.js';
import { UserError } from '../../util/errors.js';
import { VERSION } from '../../util/version.js';
import { ApiError, faultLine, toApiError } from '../errors.js';
import { fromImageBytes } from '../inputs.js';
import { V2_NAMES } from '../openapi-v2.js';
import { MAX_BATCH } from './predict.js';

export interface V2Options {
  /** The name clients use in /v2/models/{name} (`serve --model-name`; see defaultModelName). */
  modelName: string;
  /** False while the server drains: the ready routes answer 503. */
  isReady: () => boolean;
}

/** The model name when none is given: the run folder's name (runs/latest resolves to it). */
export function defaultModelName(predictor: Predictor): string {
  return basename(predictor.dir) || predictor.metadata?.arch || 'mnist';
}

type Params = { name: string; version?: string };
type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const bad = (message: string) => new ApiError(400, 'bad_request', message);
const show = (value: unknown) => (value === undefined ? 'missing' : JSON.stringify(value));

/** Register the v2 routes under /v2, in their own plugin (error shape, 404s, body parsing). */
export function registerV2Routes(app: FastifyInstance, predictor: Predictor, options: V2Options): void {
  const { modelName, isReady } = options;
  if (!modelName || modelName.includes('/')) throw new UserError(`model name ${JSON.stringify(modelName)} must be non-empty, with no '/'`);
  const spec = predictor.spec;
  const [height, width, channels] = predictor.metadata?.inputShape ?? [spec.size, spec.size, 1];
  const imageShape = [height, width, channels];
  const values = height * width * channels;

  const metadata = {
    name: modelName,
    versions: [V2_NAMES.version],
    platform: V2_NAMES.platform,
    inputs: [{ name: V2_NAMES.input, datatype: 'FP32', shape: [-1, ...imageShape] }],
    outputs: [
      { name: V2_NAMES.probabilities, datatype: 'FP32', shape: [-1, NUM_CLASSES] },
      { name: V2_NAMES.digit, datatype: 'INT64', shape: [-1] },
    ],
  };

  /** The model a URL names, or 404. */
  function checkModel(params: Params): void {
    if (params.name !== modelName) throw new ApiError(404, 'not_found', `unknown model '${params.name}': this server serves '${modelName}'`);
    if (params.version !== undefined && params.version !== V2_NAMES.version) {
      throw new ApiError(404, 'not_found', `unknown version '${params.version}' of model '${modelName}': the versions are ${JSON.stringify(metadata.versions)}`);
    }
  }

  /** FP32 [N, 28, 28, 1] → the model's inputs, as given; pixels and the blank verdict from the run's spec. */
  function fromTensor(data: Float32Array, n: number): Preprocessed[] {
    const inputs: Preprocessed[] = [];
    for (let i = 0; i < n; i++) {
      const input = data.slice(i * values, (i + 1) * values);
      const pixels = Uint8Array.from(input, (v) => Math.min(255, Math.max(0, Math.round((v - spec.offset) / spec.scale))));
      // The one rule for MNIST-form pixels ('blank'), with the model input kept exactly as sent.
      inputs.push({ ...predictor.preprocessPixels(pixels), input });
    }
    return inputs;
  }

  /** The input tensor's name, datatype and shape, checked before any work: its batch size and value count. */
  function checkInput(input: Json): { what: string; datatype: 'FP32' | 'BYTES'; shape: number[]; n: number; count: number } {
    const { name, datatype, shape } = input;
    const what = `input '${String(name)}'`;
    const expected =
      name === V2_NAMES.input
        ? { datatype: 'FP32' as const, shape: [-1, ...imageShape] }
        : name === V2_NAMES.imageInput
          ? { datatype: 'BYTES' as const, shape: [-1] }
          : undefined;
    if (!expected) {
      throw bad(`unknown input ${show(name)}: model '${modelName}' takes '${V2_NAMES.input}' (FP32 ${JSON.stringify(metadata.inputs[0].shape)}) or, as this server's extension, '${V2_NAMES.imageInput}' (BYTES [-1], image files)`);
    }
    if (datatype !== expected.datatype) throw bad(`${what} has datatype ${show(datatype)}; it must be ${expected.datatype}`);
    const shapeOk =
      Array.isArray(shape) &&
      shape.length === expected.shape.length &&
      shape.every((d, i) => Number.isInteger(d) && (i === 0 ? d >= 1 && d <= MAX_BATCH : d === expected.shape[i]));
    if (!shapeOk) throw bad(`${what} has shape ${show(shape)}; it must be ${JSON.stringify(expected.shape)} with the batch size from 1 to ${MAX_BATCH}`);
    const n = (shape as number[])[0];
    return { what, datatype: expected.datatype, shape: shape as number[], n, count: n * (datatype === 'FP32' ? values : 1) };
  }

  async function readInputs(input: Json, checked: ReturnType<typeof checkInput>, binary: Buffer | undefined): Promise<Preprocessed[]> {
    const { what, datatype, shape, n, count } = checked;
    if (datatype === 'FP32') {
      if (binary) {
        if (binary.length !== count * 4) throw bad(`${what}: binary_data_size is ${binary.length} bytes; shape ${JSON.stringify(shape)} of FP32 needs ${count * 4}`);
        const view = new DataView(binary.buffer, binary.byteOffset, binary.length);
        const data = new Float32Array(count);
        for (let i = 0; i < count; i++) data[i] = view.getFloat32(i * 4, true);
        const nonFinite = data.findIndex((v) => !Number.isFinite(v));
        if (nonFinite >= 0) throw bad(`${what}: element ${nonFinite} is ${data[nonFinite]}; values must be finite`);
        return fromTensor(data, n);
      }
      const flat = flatten(input.data, what, count);
      if (flat.length !== count) throw bad(`${what} has ${flat.length} values; shape ${JSON.stringify(shape)} needs ${count}`);
      const data = new Float32Array(count);
      for (let i = 0; i < count; i++) {
        const v = flat[i];
        if (typeof v !== 'number' || !Number.isFinite(v)) throw bad(`${what}: element ${i} is ${show(v)}; FP32 values must be finite numbers`);
        data[i] = v;
      }
      return fromTensor(data, n);
    }

    // BYTES: image files; base64 strings in JSON, length-prefixed raw bytes in binary.
    let files: Uint8Array[];
    if (binary) {
      files = splitBytesTensor(binary, what);
      if (files.length !== count) throw bad(`${what} has ${files.length} elements in its binary data; shape ${JSON.stringify(shape)} needs ${count}`);
    } else {
      const flat = flatten(input.data, what, count);
      if (flat.length !== count) throw bad(`${what} has ${flat.length} values; shape ${JSON.stringify(shape)} needs ${count}`);
      files = flat.map((v, i) => {
        if (typeof v !== 'string') throw bad(`${what}: element ${i} is ${show(v)}; BYTES elements are base64 strings of image files`);
        const payload = v.replace(/^data:[^,]*,/, '');
        if (!/^[A-Za-z0-9+/=\s_-]*$/.test(payload)) throw bad(`${what}: element ${i} is not base64`);
        return new Uint8Array(Buffer.from(payload, 'base64'));
      });
    }
    const inputs: Preprocessed[] = [];
    for (const [i, file] of files.entries()) inputs.push(await fromImageBytes(predictor, file, `${what} element ${i}`));
    return inputs;
  }

  async function infer(request: FastifyRequest<{ Params: Params }>, reply: FastifyReply) {
    checkModel(request.params);
    const { json, binary } = splitBody(request);
    const body = parseRequest(json);

    // One input tensor; its binary data, when it has some, is all of the binary part.
    const inputs = body.inputs as unknown[];
    if (!Array.isArray(inputs) || inputs.length === 0) throw bad(`"inputs" is ${show(body.inputs)}: send {"inputs": [{"name": "${V2_NAMES.input}", "shape": [1, ${imageShape.join(', ')}], "datatype": "FP32", "data": [...]}]}`);
    if (inputs.length > 1) throw bad(`${inputs.length} input tensors: model '${modelName}' takes one, '${V2_NAMES.input}' (or '${V2_NAMES.imageInput}')`);
    const input = inputs[0];
    if (!isObject(input)) throw bad(`inputs[0] is ${show(input)}, not an object`);
    const checked = checkInput(input);
    const params = input.parameters === undefined ? {} : input.parameters;
    if (!isObject(params)) throw bad(`inputs[0].parameters is ${show(params)}, not an object`);
    if (params.shared_memory_region !== undefined) throw bad('shared memory inputs are not supported by this server: send the data in the body');
    const binarySize = params.binary_data_size;
    let inputBinary: Buffer | undefined;
    if (binarySize !== undefined) {
      if (!Number.isInteger(binarySize) || (binarySize as number) < 0) throw bad(`inputs[0].parameters.binary_data_size is ${show(binarySize)}, not a whole number of bytes`);
      if (input.data !== undefined) throw bad(`inputs[0] has both "data" and parameters.binary_data_size: send one`);
      if (!binary) throw bad('inputs[0].parameters.binary_data_size needs the Inference-Header-Content-Length header (the length of the JSON part of the body)');
      if (binary.length !== binarySize) throw bad(`the binary part of the body is ${binary.length} bytes; inputs[0].parameters.binary_data_size says ${binarySize as number}`);
      inputBinary = binary;
    } else {
      if (input.data === undefined) throw bad(`inputs[0] has no "data" (nor parameters.binary_data_size)`);
      if (binary && binary.length > 0) throw bad(`the body has ${binary.length} bytes after the JSON part, but no input has parameters.binary_data_size`);
    }

    const outputs = requestedOutputs(body);
    const preprocessed = await readInputs(input, checked, inputBinary);
    const predictions = await predictor.predict(preprocessed);
    return sendAnswer(reply, body.id as string | undefined, outputs, predictions);
  }

  /** The outputs asked for (all by default), each with whether it goes back as binary data. */
  function requestedOutputs(body: Json): { name: string; binary: boolean }[] {
    const params = body.parameters === undefined ? {} : body.parameters;
    if (!isObject(params)) throw bad(`"parameters" is ${show(params)}, not an object`);
    const allBinary = params.binary_data_output ?? false;
    if (typeof allBinary !== 'boolean') throw bad(`parameters.binary_data_output is ${show(allBinary)}, not true or false`);
    if (body.outputs === undefined) return metadata.outputs.map((o) => ({ name: o.name, binary: allBinary }));
    if (!Array.isArray(body.outputs)) throw bad(`"outputs" is ${show(body.outputs)}, not a list`);
    const names = metadata.outputs.map((o) => o.name) as string[];
    return body.outputs.map((output: unknown, i) => {
      if (!isObject(output) || typeof output.name !== 'string') throw bad(`outputs[${i}] is ${show(output)}: each requested output is {"name": ...}`);
      if (!names.includes(output.name)) throw bad(`unknown output '${output.name}': model '${modelName}' gives ${names.map((n) => `'${n}'`).join(' and ')}`);
      const p = output.parameters === undefined ? {} : output.parameters;
      if (!isObject(p)) throw bad(`outputs[${i}].parameters is ${show(p)}, not an object`);
      if (p.classification !== undefined) throw bad(`outputs[${i}]: the classification extension is not supported by this server; ask for '${V2_NAMES.probabilities}' and '${V2_NAMES.digit}'`);
      if (p.shared_memory_region !== undefined) throw bad(`outputs[${i}]: shared memory outputs are not supported by this server`);
      const binary = p.binary_data ?? allBinary;
      if (typeof binary !== 'boolean') throw bad(`outputs[${i}].parameters.binary_data is ${show(binary)}, not true or false`);
      return { name: output.name, binary };
    });
  }

  function sendAnswer(reply: FastifyReply, id: string | undefined, outputs: { name: string; binary: boolean }[], predictions: Prediction[]) {
    const n = predictions.length;
    const chunks: Buffer[] = [];
    const tensors = outputs.map(({ name, binary }) => {
      const isDigit = name === V2_NAMES.digit;
      const tensor = isDigit
        ? { name, datatype: 'INT64', shape: [n], data: predictions.map((p) => p.digit ?? -1) }
        : { name, datatype: 'FP32', shape: [n, NUM_CLASSES], data: predictions.flatMap((p) => p.probabilities) };
      if (!binary) return tensor;
      // Little-endian, row-major, as the binary tensor data extension says.
      const bytes = Buffer.alloc(tensor.data.length * (isDigit ? 8 : 4));
      tensor.data.forEach((v, i) => (isDigit ? bytes.writeBigInt64LE(BigInt(v), i * 8) : bytes.writeFloatLE(v, i * 4)));
      chunks.push(bytes);
      return { name, datatype: tensor.datatype, shape: tensor.shape, parameters: { binary_data_size: bytes.length } };
    });
    const answer = { model_name: modelName, model_version: V2_NAMES.version, ...(id === undefined ? {} : { id }), outputs: tensors };
    if (chunks.length === 0) return reply.type('application/json; charset=utf-8').send(answer);
    const json = Buffer.from(JSON.stringify(answer));
    return reply.header('inference-header-content-length', String(json.length)).type('application/octet-stream').send(Buffer.concat([json, ...chunks]));
  }

  const bodyLimit = app.initialConfig.bodyLimit ?? 1024 * 1024;

  /** The body, decompressed, split at Inference-Header-Content-Length into JSON and binary parts. */
  function splitBody(request: FastifyRequest): { json: Buffer; binary?: Buffer } {
    let body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    const encoding = String(request.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
    if (encoding === 'gzip' || encoding === 'deflate') {
      try {
        body = (encoding === 'gzip' ? gunzipSync : inflateSync)(body, { maxOutputLength: bodyLimit });
      } catch (err) {
        if (err instanceof RangeError) throw new ApiError(413, 'body_too_large', `the body is larger than the limit of ${bodyLimit} bytes once decompressed`);
        throw bad(`the body is not valid ${encoding} data`);
      }
    } else if (encoding !== 'identity') {
      throw new ApiError(415, 'unsupported_media_type', `content encoding ${encoding} is not accepted: send gzip, deflate or none`);
    }
    const header = request.headers['inference-header-content-length'];
    if (header === undefined) return { json: body };
    const length = Number(header);
    if (typeof header !== 'string' || !/^\d+$/.test(header.trim()) || length > body.length) {
      throw bad(`Inference-Header-Content-Length is ${JSON.stringify(header)}: it must be the length in bytes of the JSON part of the ${body.length}-byte body`);
    }
    return { json: body.subarray(0, length), binary: body.subarray(length) };
  }

  function parseRequest(json: Buffer): Json {
    if (json.length === 0) throw bad('the body is empty: send an inference request, {"inputs": [...]}');
    let body: unknown;
    try {
      body = JSON.parse(json.toString('utf8'));
    } catch (err) {
      const text = json.toString('utf8');
      const hint = /(^|[^\w"])(-?Infinity|NaN)([^\w"]|$)/.test(text) ? ' (NaN and Infinity are not JSON, and not valid inputs: values must be finite)' : '';
      throw new ApiError(400, 'bad_json', `the body is not valid JSON: ${(err as Error).message}${hint}`);
    }
    if (!isObject(body)) throw bad('the body must be an inference request object, {"inputs": [...]}');
    if (body.id !== undefined && typeof body.id !== 'string') throw bad(`"id" is ${show(body.id)}; it must be a string`);
    return body;
  }

  void app.register(
    async (v2) => {
      // Every body is the protocol's: JSON, or JSON then binary tensors, whatever its content type.
      v2.removeAllContentTypeParsers();
      v2.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
      v2.setErrorHandler((err: Error & { code?: string; statusCode?: number }, request, reply) => {
        const apiError = toApiError(err, bodyLimit);
        // One line, and only for our own faults (not for a 503 while draining): errors.ts's faultLine.
        if (apiError.status >= 500 && apiError.code === 'internal') console.error(faultLine(request.method, request.url, err));
        void reply.status(apiError.status).type('application/json; charset=utf-8').send({ error: apiError.message });
      });
      v2.setNotFoundHandler((request, reply) => {
        void reply.status(404).send({ error: `no route for ${request.method} ${request.url.split('?')[0]} in the Open Inference Protocol (GET /v2, /v2/health/live, /v2/health/ready, /v2/models/${modelName}, /v2/models/${modelName}/ready; POST /v2/models/${modelName}/infer)` });
      });

      v2.get('/', async () => ({ name: 'mnist-cnn', version: VERSION, extensions: V2_NAMES.extensions }));
      v2.get('/health/live', async () => ({ live: true }));
      v2.get('/health/ready', async (_request, reply) => {
        if (!isReady()) return reply.status(503).header('retry-after', '1').send({ ready: false });
        return { ready: true };
      });
      const ready = async (request: FastifyRequest<{ Params: Params }>, reply: FastifyReply) => {
        checkModel(request.params);
        if (!isReady()) return reply.status(503).header('retry-after', '1').send({ name: modelName, ready: false });
        return { name: modelName, ready: true };
      };
      const modelMetadata = async (request: FastifyRequest<{ Params: Params }>) => {
        checkModel(request.params);
        return metadata;
      };
      for (const prefix of ['/models/:name', '/models/:name/versions/:version']) {
        v2.get(prefix, modelMetadata);
        v2.get(`${prefix}/ready`, ready);
        v2.post(`${prefix}/infer`, infer);
      }
    },
    { prefix: '/v2' },
  );
}

/** Nested or flat tensor data → its elements in row-major order (stops past `limit`). */
function flatten(data: unknown, what: string, limit: number): unknown[] {
  if (!Array.isArray(data)) throw bad(`${what}: "data" is ${show(data)}, not a list`);
  const out: unknown[] = [];
  const walk = (value: unknown[], depth: number) => {
    if (depth > 8) throw bad(`${what}: "data" is nested deeper than its shape`);
    for (const v of value) {
      if (Array.isArray(v)) walk(v, depth + 1);
      else out.push(v);
      if (out.length > limit) return;
    }
  };
  walk(data, 1);
  return out;
}

/** Triton's binary BYTES tensor: each element a 4-byte little-endian length, then its bytes. */
function splitBytesTensor(binary: Buffer, what: string): Uint8Array[] {
  const elements: Uint8Array[] = [];
  let at = 0;
  while (at < binary.length) {
    if (at + 4 > binary.length) throw bad(`${what}: the binary BYTES data ends inside an element's 4-byte length`);
    const length = binary.readUInt32LE(at);
    at += 4;
    if (at + length > binary.length) throw bad(`${what}: binary BYTES element ${elements.length} says ${length} bytes, but only ${binary.length - at} remain`);
    elements.push(new Uint8Array(binary.subarray(at, at + length)));
    at += length;
  }
  return elements;
}

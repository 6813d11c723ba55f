/**
 * The bodies of the Open Inference Protocol's infer route (routes/v2.ts, whose header describes the
 * protocol): the request split into its JSON and binary parts and parsed, its one input tensor
 * checked and read into the model's inputs (FP32 as given, BYTES as image files), the outputs it
 * asks for, and the answer built as JSON or binary tensor data. Every check throws a 400 ApiError
 * whose message names the tensor and the problem; routes/v2.ts sends it as `{"error": "..."}`.
 * Kept apart from the routes so that each route reads on its own there.
 */
import { gunzipSync, inflateSync } from 'node:zlib';
import type { FastifyRequest } from 'fastify';
import { NUM_CLASSES } from '../../data/types.js';
import type { Preprocessed } from '../../image/preprocess.js';
import type { Prediction } from '../../predict/interpret.js';
import type { Predictor } from '../../predict/predictor.js';
import { ApiError } from '../errors.js';
import { bytesView, fromImageFiles, type ImageReader } from '../inputs.js';
import { V2_NAMES } from './v2-schemas.js';
import { MAX_BATCH } from './predict.js';

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const bad = (message: string) => new ApiError(400, 'bad_request', message);
const show = (value: unknown) => (value === undefined ? 'missing' : JSON.stringify(value));

/** The served model as the protocol describes it, with what reading its inputs needs. */
export interface V2Model {
  predictor: Predictor;
  /** How its image inputs are read (the server's rules). */
  reader: ImageReader;
  name: string;
  /** One input's shape, [28, 28, 1], and its number of values. */
  imageShape: number[];
  values: number;
  /** GET /v2/models/{name}'s answer. */
  metadata: {
    name: string;
    versions: string[];
    platform: string;
    inputs: { name: string; datatype: string; shape: number[] }[];
    outputs: { name: string; datatype: string; shape: number[] }[];
  };
}

export function v2Model(reader: ImageReader, name: string): V2Model {
  const { predictor } = reader;
  const spec = predictor.spec;
  const [height, width, channels] = predictor.metadata?.inputShape ?? [spec.size, spec.size, 1];
  const imageShape = [height, width, channels];
  const metadata = {
    name,
    versions: [V2_NAMES.version],
    platform: V2_NAMES.platform,
    inputs: [{ name: V2_NAMES.input, datatype: 'FP32', shape: [-1, ...imageShape] }],
    outputs: [
      { name: V2_NAMES.probabilities, datatype: 'FP32', shape: [-1, NUM_CLASSES] },
      { name: V2_NAMES.digit, datatype: 'INT64', shape: [-1] },
      // A model trained with non-digits: its 11th output, the probability of "not a digit".
      ...(predictor.outputs > NUM_CLASSES ? [{ name: V2_NAMES.notADigit, datatype: 'FP32', shape: [-1] }] : []),
    ],
  };
  return { predictor, reader, name, imageShape, values: height * width * channels, metadata };
}

// ------------------------------------------------------------------ the request body

/** The body, decompressed, split at Inference-Header-Content-Length into JSON and binary parts. */
export function splitBody(request: FastifyRequest, bodyLimit: number): { json: Buffer; binary?: Buffer } {
  let body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
  const encoding = String(request.headers['content-encoding'] ?? 'identity')
    .trim()
    .toLowerCase();
  if (encoding === 'gzip' || encoding === 'deflate') {
    try {
      body = (encoding === 'gzip' ? gunzipSync : inflateSync)(body, { maxOutputLength: bodyLimit });
    } catch (err) {
      if (err instanceof RangeError)
        throw new ApiError(
          413,
          'body_too_large',
          `the body is larger than the limit of ${bodyLimit} bytes once decompressed`,
        );
      throw bad(`the body is not valid ${encoding} data`);
    }
  } else if (encoding !== 'identity') {
    throw new ApiError(
      415,
      'unsupported_media_type',
      `content encoding ${encoding} is not accepted: send gzip, deflate or none`,
    );
  }
  const header = request.headers['inference-header-content-length'];
  if (header === undefined) return { json: body };
  const length = Number(header);
  if (typeof header !== 'string' || !/^\d+$/.test(header.trim()) || length > body.length) {
    throw bad(
      `Inference-Header-Content-Length is ${JSON.stringify(header)}: it must be the length in bytes of the JSON part of the ${body.length}-byte body`,
    );
  }
  return { json: body.subarray(0, length), binary: body.subarray(length) };
}

/** The JSON part: an inference request object, with a string id if any. */
export function parseRequest(json: Buffer): Json {
  if (json.length === 0) throw bad('the body is empty: send an inference request, {"inputs": [...]}');
  let body: unknown;
  try {
    body = JSON.parse(json.toString('utf8'));
  } catch (err) {
    const text = json.toString('utf8');
    const hint = /(^|[^\w"])(-?Infinity|NaN)([^\w"]|$)/.test(text)
      ? ' (NaN and Infinity are not JSON, and not valid inputs: values must be finite)'
      : '';
    throw new ApiError(400, 'bad_json', `the body is not valid JSON: ${(err as Error).message}${hint}`);
  }
  if (!isObject(body)) throw bad('the body must be an inference request object, {"inputs": [...]}');
  if (body.id !== undefined && typeof body.id !== 'string') throw bad(`"id" is ${show(body.id)}; it must be a string`);
  return body;
}

// ------------------------------------------------------------------ the input tensor

/** The one input tensor, checked before any work: its name, datatype, shape, batch size and value count, and its binary data. */
interface InputTensor {
  input: Json;
  what: string;
  datatype: 'FP32' | 'BYTES';
  shape: number[];
  n: number;
  count: number;
  binary?: Buffer;
}

/** The request's one input tensor; its binary data, when it has some, is all of the binary part. */
export function requestInput(model: V2Model, body: Json, binary: Buffer | undefined): InputTensor {
  const inputs = body.inputs as unknown[];
  if (!Array.isArray(inputs) || inputs.length === 0)
    throw bad(
      `"inputs" is ${show(body.inputs)}: send {"inputs": [{"name": "${V2_NAMES.input}", "shape": [1, ${model.imageShape.join(', ')}], "datatype": "FP32", "data": [...]}]}`,
    );
  if (inputs.length > 1)
    throw bad(
      `${inputs.length} input tensors: model '${model.name}' takes one, '${V2_NAMES.input}' (or '${V2_NAMES.imageInput}')`,
    );
  const input = inputs[0];
  if (!isObject(input)) throw bad(`inputs[0] is ${show(input)}, not an object`);
  const tensor = checkInput(model, input);
  return { ...tensor, binary: inputBinary(input, binary) };
}

/** The input tensor's name, datatype and shape against the model's. */
function checkInput(model: V2Model, input: Json): Omit<InputTensor, 'binary'> {
  const { name, datatype, shape } = input;
  const what = `input '${String(name)}'`;
  const expected =
    name === V2_NAMES.input
      ? { datatype: 'FP32' as const, shape: [-1, ...model.imageShape] }
      : name === V2_NAMES.imageInput
        ? { datatype: 'BYTES' as const, shape: [-1] }
        : undefined;
  if (!expected) {
    throw bad(
      `unknown input ${show(name)}: model '${model.name}' takes '${V2_NAMES.input}' (FP32 ${JSON.stringify(model.metadata.inputs[0].shape)}) or, as this server's extension, '${V2_NAMES.imageInput}' (BYTES [-1], image files)`,
    );
  }
  if (datatype !== expected.datatype)
    throw bad(`${what} has datatype ${show(datatype)}; it must be ${expected.datatype}`);
  const shapeOk =
    Array.isArray(shape) &&
    shape.length === expected.shape.length &&
    shape.every((d, i) => Number.isInteger(d) && (i === 0 ? d >= 1 && d <= MAX_BATCH : d === expected.shape[i]));
  if (!shapeOk)
    throw bad(
      `${what} has shape ${show(shape)}; it must be ${JSON.stringify(expected.shape)} with the batch size from 1 to ${MAX_BATCH}`,
    );
  const n = (shape as number[])[0];
  return {
    input,
    what,
    datatype: expected.datatype,
    shape: shape as number[],
    n,
    count: n * (datatype === 'FP32' ? model.values : 1),
  };
}

/** The input's binary data (parameters.binary_data_size), or undefined when it sends "data". */
function inputBinary(input: Json, binary: Buffer | undefined): Buffer | undefined {
  const params = input.parameters === undefined ? {} : input.parameters;
  if (!isObject(params)) throw bad(`inputs[0].parameters is ${show(params)}, not an object`);
  if (params.shared_memory_region !== undefined)
    throw bad('shared memory inputs are not supported by this server: send the data in the body');
  const binarySize = params.binary_data_size;
  if (binarySize === undefined) {
    if (input.data === undefined) throw bad(`inputs[0] has no "data" (nor parameters.binary_data_size)`);
    if (binary && binary.length > 0)
      throw bad(
        `the body has ${binary.length} bytes after the JSON part, but no input has parameters.binary_data_size`,
      );
    return undefined;
  }
  if (!Number.isInteger(binarySize) || (binarySize as number) < 0)
    throw bad(`inputs[0].parameters.binary_data_size is ${show(binarySize)}, not a whole number of bytes`);
  if (input.data !== undefined) throw bad(`inputs[0] has both "data" and parameters.binary_data_size: send one`);
  if (!binary)
    throw bad(
      'inputs[0].parameters.binary_data_size needs the Inference-Header-Content-Length header (the length of the JSON part of the body)',
    );
  if (binary.length !== binarySize)
    throw bad(
      `the binary part of the body is ${binary.length} bytes; inputs[0].parameters.binary_data_size says ${binarySize as number}`,
    );
  return binary;
}

/** The checked input tensor → the model's inputs: FP32 values as given, or BYTES image files preprocessed (as the `request`'s: inputs.ts). */
export async function readInputs(
  model: V2Model,
  tensor: InputTensor,
  request?: FastifyRequest,
): Promise<Preprocessed[]> {
  if (tensor.datatype === 'FP32') return fromTensor(model, readFp32(tensor), tensor.n);
  return fromImageFiles(
    model.reader,
    readImageFiles(tensor).map((bytes, i) => ({ bytes, name: `${tensor.what} element ${i}` })),
    request,
  );
}

/** FP32 values, little-endian binary or JSON numbers, all finite. */
function readFp32({ input, what, shape, count, binary }: InputTensor): Float32Array {
  const data = new Float32Array(count);
  if (binary) {
    if (binary.length !== count * 4)
      throw bad(
        `${what}: binary_data_size is ${binary.length} bytes; shape ${JSON.stringify(shape)} of FP32 needs ${count * 4}`,
      );
    const view = new DataView(binary.buffer, binary.byteOffset, binary.length);
    for (let i = 0; i < count; i++) data[i] = view.getFloat32(i * 4, true);
    const nonFinite = data.findIndex((v) => !Number.isFinite(v));
    if (nonFinite >= 0) throw bad(`${what}: element ${nonFinite} is ${data[nonFinite]}; values must be finite`);
    return data;
  }
  const flat = jsonData(input, what, shape, count);
  for (let i = 0; i < count; i++) {
    const v = flat[i];
    if (typeof v !== 'number' || !Number.isFinite(v))
      throw bad(`${what}: element ${i} is ${show(v)}; FP32 values must be finite numbers`);
    data[i] = v;
  }
  return data;
}

/** BYTES elements, image files: base64 strings in JSON, length-prefixed raw bytes in binary. */
function readImageFiles({ input, what, shape, count, binary }: InputTensor): Uint8Array[] {
  if (binary) {
    const files = splitBytesTensor(binary, what);
    if (files.length !== count)
      throw bad(
        `${what} has ${files.length} elements in its binary data; shape ${JSON.stringify(shape)} needs ${count}`,
      );
    return files;
  }
  return jsonData(input, what, shape, count).map((v, i) => {
    if (typeof v !== 'string')
      throw bad(`${what}: element ${i} is ${show(v)}; BYTES elements are base64 strings of image files`);
    const payload = v.replace(/^data:[^,]*,/, '');
    if (!/^[A-Za-z0-9+/=\s_-]*$/.test(payload)) throw bad(`${what}: element ${i} is not base64`);
    return bytesView(Buffer.from(payload, 'base64'));
  });
}

/** FP32 [N, 28, 28, 1] → the model's inputs, as given; pixels and the blank verdict from the run's spec. */
function fromTensor({ predictor, values }: V2Model, data: Float32Array, n: number): Preprocessed[] {
  const spec = predictor.spec;
  const inputs: Preprocessed[] = [];
  for (let i = 0; i < n; i++) {
    const input = data.slice(i * values, (i + 1) * values);
    const pixels = Uint8Array.from(input, (v) =>
      Math.min(255, Math.max(0, Math.round((v - spec.offset) / spec.scale))),
    );
    // The one rule for MNIST-form pixels ('blank'), with the model input kept exactly as sent.
    inputs.push({ ...predictor.preprocessPixels(pixels), input });
  }
  return inputs;
}

/** The input's "data", flattened, with exactly the values its shape needs. */
function jsonData(input: Json, what: string, shape: number[], count: number): unknown[] {
  const flat = flatten(input.data, what, count);
  if (flat.length !== count)
    throw bad(`${what} has ${flat.length} values; shape ${JSON.stringify(shape)} needs ${count}`);
  return flat;
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
    if (at + length > binary.length)
      throw bad(
        `${what}: binary BYTES element ${elements.length} says ${length} bytes, but only ${binary.length - at} remain`,
      );
    elements.push(bytesView(binary.subarray(at, at + length)));
    at += length;
  }
  return elements;
}

// ------------------------------------------------------------------ the outputs

export interface RequestedOutput {
  name: string;
  /** Sent back as binary data (the binary tensor data extension) rather than in the JSON. */
  binary: boolean;
}

/** The outputs asked for (all by default), each with whether it goes back as binary data. */
export function requestedOutputs(model: V2Model, body: Json): RequestedOutput[] {
  const params = body.parameters === undefined ? {} : body.parameters;
  if (!isObject(params)) throw bad(`"parameters" is ${show(params)}, not an object`);
  const allBinary = params.binary_data_output ?? false;
  if (typeof allBinary !== 'boolean')
    throw bad(`parameters.binary_data_output is ${show(allBinary)}, not true or false`);
  const names = model.metadata.outputs.map((o) => o.name);
  if (body.outputs === undefined) return names.map((name) => ({ name, binary: allBinary }));
  if (!Array.isArray(body.outputs)) throw bad(`"outputs" is ${show(body.outputs)}, not a list`);
  return body.outputs.map((output: unknown, i) => {
    if (!isObject(output) || typeof output.name !== 'string')
      throw bad(`outputs[${i}] is ${show(output)}: each requested output is {"name": ...}`);
    if (!names.includes(output.name))
      throw bad(
        `unknown output '${output.name}': model '${model.name}' gives ${names.map((n) => `'${n}'`).join(', ')}`,
      );
    const p = output.parameters === undefined ? {} : output.parameters;
    if (!isObject(p)) throw bad(`outputs[${i}].parameters is ${show(p)}, not an object`);
    if (p.classification !== undefined)
      throw bad(
        `outputs[${i}]: the classification extension is not supported by this server; ask for '${V2_NAMES.probabilities}' and '${V2_NAMES.digit}'`,
      );
    if (p.shared_memory_region !== undefined)
      throw bad(`outputs[${i}]: shared memory outputs are not supported by this server`);
    const binary = p.binary_data ?? allBinary;
    if (typeof binary !== 'boolean')
      throw bad(`outputs[${i}].parameters.binary_data is ${show(binary)}, not true or false`);
    return { name: output.name, binary };
  });
}

/** The inference answer: its JSON, and the binary outputs that follow it in order (none when all are JSON). */
export function buildAnswer(
  model: V2Model,
  id: string | undefined,
  outputs: RequestedOutput[],
  predictions: Prediction[],
): { answer: Json; chunks: Buffer[] } {
  const n = predictions.length;
  const chunks: Buffer[] = [];
  const tensors = outputs.map(({ name, binary }) => {
    const isDigit = name === V2_NAMES.digit;
    const tensor = isDigit
      ? { name, datatype: 'INT64', shape: [n], data: predictions.map((p) => p.digit ?? -1) }
      : name === V2_NAMES.notADigit
        ? { name, datatype: 'FP32', shape: [n], data: predictions.map((p) => p.notADigit ?? 0) }
        : { name, datatype: 'FP32', shape: [n, NUM_CLASSES], data: predictions.flatMap((p) => p.probabilities) };
    if (!binary) return tensor;
    // Little-endian, row-major, as the binary tensor data extension says.
    const bytes = Buffer.alloc(tensor.data.length * (isDigit ? 8 : 4));
    tensor.data.forEach((v, i) => (isDigit ? bytes.writeBigInt64LE(BigInt(v), i * 8) : bytes.writeFloatLE(v, i * 4)));
    chunks.push(bytes);
    return { name, datatype: tensor.datatype, shape: tensor.shape, parameters: { binary_data_size: bytes.length } };
  });
  return {
    answer: {
      model_name: model.name,
      model_version: V2_NAMES.version,
      ...(id === undefined ? {} : { id }),
      outputs: tensors,
    },
    chunks,
  };
}

/**
 * The Open Inference Protocol (KServe v2 / Triton HTTP/REST) routes' names and JSON schemas
 * (routes/v2.ts carries them; @fastify/swagger builds the OpenAPI document from them): the names
 * of the tensors and extensions, the protocol's bodies and answers, its error shape.
 */
import { BINARY } from '../schemas.js';

/** The tensors and extensions of the v2 API; routes/v2.ts and these docs share them. */
export const V2_NAMES = {
  /** The model's input: FP32 [N, 28, 28, 1], already preprocessed (pixel * scale + offset). */
  input: 'input',
  /** This server's extension: BYTES [N], each element an image file (PNG, JPEG, WebP). */
  imageInput: 'image',
  /** FP32 [N, 10]: the class probabilities. */
  probabilities: 'probabilities',
  /** INT64 [N]: the answer, -1 when the input is not a digit (blank, no dominant stroke, low confidence). */
  digit: 'digit',
  /** FP32 [N]: the probability that the input is no digit (models with the 11th output only). */
  notADigit: 'not_a_digit',
  /** Platform names are "<project>_<format>" in the protocol. */
  platform: 'tensorflowjs_layers',
  /** The version served when none is asked for (a run folder holds one model). */
  version: '1',
  /** Triton's binary tensor data extension, and this server's image input. */
  extensions: ['binary_tensor_data', 'image_bytes_input'],
} as const;

/** The protocol's error shape, `{"error": "..."}`, for every 4xx and 5xx of the v2 routes. */
const errorSchema = {
  type: 'object',
  required: ['error'],
  properties: { error: { type: 'string', description: 'what is wrong' } },
};
export const V2_ERRORS = {
  '4xx': {
    description:
      '400: malformed JSON, wrong input name, datatype, shape, count or values, undecodable image, unknown output; 404: no model of that name or version; 413: body over the size limit; 415: unsupported content encoding',
    ...errorSchema,
  },
  '5xx': { description: 'a fault of the server', ...errorSchema },
};

/** Request tensors' data: numbers, base64 strings or booleans, flat or nested. */
const tensorData = {
  type: 'array',
  description: 'row-major, flat or nested as the shape',
  items: { oneOf: [{ type: 'number' }, { type: 'string' }, { type: 'boolean' }, { type: 'array', items: {} }] },
};

const parameters = {
  type: 'object',
  additionalProperties: { oneOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }] },
};

const metadataTensor = {
  type: 'object',
  required: ['name', 'datatype', 'shape'],
  properties: {
    name: { type: 'string' },
    datatype: { type: 'string' },
    shape: { type: 'array', items: { type: 'integer' } },
  },
};

/** GET /v2's answer. */
export const SERVER_METADATA = {
  description: `{"name": "mnist-cnn", "version": "...", "extensions": ${JSON.stringify(V2_NAMES.extensions)}}`,
  type: 'object',
  required: ['name', 'version', 'extensions'],
  properties: {
    name: { type: 'string' },
    version: { type: 'string' },
    extensions: { type: 'array', items: { type: 'string' } },
  },
};

/** GET /v2/models/{name}'s answer. */
export const MODEL_METADATA = {
  description: 'the model: name, versions, platform, input and output tensors',
  type: 'object',
  required: ['name', 'versions', 'platform', 'inputs', 'outputs'],
  properties: {
    name: { type: 'string' },
    versions: { type: 'array', items: { type: 'string' } },
    platform: { type: 'string' },
    inputs: { type: 'array', items: metadataTensor },
    outputs: { type: 'array', items: metadataTensor },
  },
};

/** Readiness answers: {"ready"}, and the model's {"name", "ready"}. */
export const readyAnswer = (withName: boolean) => ({
  type: 'object',
  required: withName ? ['name', 'ready'] : ['ready'],
  properties: { ...(withName ? { name: { type: 'string' } } : {}), ready: { type: 'boolean' } },
});

export const LIVE = { type: 'object', required: ['live'], properties: { live: { type: 'boolean' } } };

/** The infer route's JSON body (the route reads and checks it itself: routes/v2-tensors.ts). */
const INFERENCE_REQUEST = {
  type: 'object',
  required: ['inputs'],
  properties: {
    id: { type: 'string', description: 'returned in the answer' },
    parameters: {
      ...parameters,
      description:
        '`binary_data_output: true`: every output as binary data after the JSON (binary tensor data extension)',
    },
    inputs: {
      type: 'array',
      minItems: 1,
      maxItems: 1,
      description: `one tensor: "${V2_NAMES.input}" FP32 [N,28,28,1] (the model's own input, values as the model expects: pixel 0-255, white ink on black, times the run's scale plus its offset), or "${V2_NAMES.imageInput}" BYTES [N] (this server's extension: base64 PNG, JPEG or WebP files in JSON, the raw files as binary data); N from 1 to 256`,
      items: {
        type: 'object',
        required: ['name', 'shape', 'datatype'],
        properties: {
          name: { type: 'string', enum: [V2_NAMES.input, V2_NAMES.imageInput] },
          shape: { type: 'array', items: { type: 'integer' } },
          datatype: { type: 'string', enum: ['FP32', 'BYTES'] },
          parameters: {
            ...parameters,
            description: '`binary_data_size`: the tensor is in the binary part of the body, this many bytes',
          },
          data: tensorData,
        },
      },
    },
    outputs: {
      type: 'array',
      description: `the outputs to return (default: all): "${V2_NAMES.probabilities}", "${V2_NAMES.digit}", and "${V2_NAMES.notADigit}" for a model trained with non-digits`,
      items: {
        type: 'object',
        required: ['name'],
        properties: {
          name: { type: 'string', enum: [V2_NAMES.probabilities, V2_NAMES.digit, V2_NAMES.notADigit] },
          parameters: { ...parameters, description: '`binary_data: true`: this output as binary data after the JSON' },
        },
      },
    },
  },
};

/** The infer route's answer; output data are numbers (the digit -1 where /v1 answers null). */
export const INFERENCE_RESPONSE = {
  description:
    'the outputs; with binary outputs, application/octet-stream: the JSON answer (Inference-Header-Content-Length bytes) then the binary tensors',
  type: 'object',
  required: ['model_name', 'outputs'],
  properties: {
    model_name: { type: 'string' },
    model_version: { type: 'string' },
    id: { type: 'string', description: "the request's id, when it had one" },
    outputs: {
      type: 'array',
      description: `"${V2_NAMES.probabilities}" FP32 [N,10]; "${V2_NAMES.digit}" INT64 [N], -1 when the input is not a digit (blank, no dominant stroke) or the model is not sure enough`,
      items: {
        type: 'object',
        required: ['name', 'datatype', 'shape'],
        properties: {
          name: { type: 'string' },
          datatype: { type: 'string' },
          shape: { type: 'array', items: { type: 'integer' } },
          parameters: {
            type: 'object',
            properties: { binary_data_size: { type: 'integer' } },
            description: '`binary_data_size` when the output is in the binary part of the body',
          },
          data: { type: 'array', items: { type: 'number' } },
        },
      },
    },
  },
};

/** The infer route's bodies: JSON, or JSON then binary tensors. */
export const INFERENCE_BODIES = {
  description: "any content type is read as the protocol's JSON (curl -d, clients that send none)",
  content: {
    'application/json': { schema: INFERENCE_REQUEST },
    'application/octet-stream': {
      schema: {
        ...BINARY,
        description:
          "the JSON request, then the binary tensors (Inference-Header-Content-Length gives the JSON's length)",
      },
    },
  },
};

/** The infer route's headers. */
export const INFERENCE_HEADERS = {
  type: 'object',
  properties: {
    'inference-header-content-length': {
      type: 'integer',
      description: 'binary tensor data extension: the length of the JSON part; binary tensors follow it',
    },
    'content-encoding': { type: 'string', enum: ['gzip', 'deflate', 'identity'] },
  },
};

/** The model routes' path parameters, at /models/:name and at /models/:name/versions/:version. */
export const modelParams = (withVersion: boolean) => ({
  type: 'object',
  properties: {
    name: {
      type: 'string',
      description: "the served model (`serve --model-name`, default: the run folder's name); another name answers 404",
    },
    ...(withVersion
      ? {
          version: {
            type: 'string',
            description: `the one version served, "${V2_NAMES.version}"; another answers 404`,
          },
        }
      : {}),
  },
});

/**
 * The Open Inference Protocol (KServe v2 / Triton HTTP/REST) routes of routes/v2.ts: the names of
 * their tensors and extensions, and their OpenAPI path items, to merge into openapi.ts's `paths`.
 * Kept apart from routes/v2.ts (which imports the names from here) so that openapi.ts can import
 * this file without an import cycle through routes/.
 */

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

const errorSchema = {
  type: 'object',
  required: ['error'],
  properties: { error: { type: 'string', description: 'what is wrong' } },
};
const errorContent = { 'application/json': { schema: errorSchema } };

const tensorData = {
  type: 'array',
  description: 'row-major, flat or nested as the shape',
  items: { oneOf: [{ type: 'number' }, { type: 'string' }, { type: 'boolean' }, { type: 'array', items: {} }] },
};

const parameters = { type: 'object', additionalProperties: { oneOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }] } };

const metadataTensor = {
  type: 'object',
  required: ['name', 'datatype', 'shape'],
  properties: { name: { type: 'string' }, datatype: { type: 'string' }, shape: { type: 'array', items: { type: 'integer' } } },
};

const inferenceRequest = {
  type: 'object',
  required: ['inputs'],
  properties: {
    id: { type: 'string', description: 'returned in the answer' },
    parameters: { ...parameters, description: '`binary_data_output: true`: every output as binary data after the JSON (binary tensor data extension)' },
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
          parameters: { ...parameters, description: '`binary_data_size`: the tensor is in the binary part of the body, this many bytes' },
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
          name: { type: 'string', enum: [V2_NAMES.probabilities, V2_NAMES.digit] },
          parameters: { ...parameters, description: '`binary_data: true`: this output as binary data after the JSON' },
        },
      },
    },
  },
};

const inferenceResponse = {
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
        required: ['name', 'shape', 'datatype'],
        properties: {
          name: { type: 'string' },
          shape: { type: 'array', items: { type: 'integer' } },
          datatype: { type: 'string' },
          parameters: { ...parameters, description: '`binary_data_size` when the output is in the binary part of the body' },
          data: tensorData,
        },
      },
    },
  },
};

const modelName = { name: 'name', in: 'path', required: true, schema: { type: 'string' }, description: 'the served model (`serve --model-name`, default: the run folder\'s name); GET /v2/models/... of another name answers 404' };
const modelVersion = { name: 'version', in: 'path', required: true, schema: { type: 'string', enum: [V2_NAMES.version] }, description: 'the one version served' };

const health = (summary: string, body: string) => ({
  summary,
  responses: { '200': { description: body, content: { 'application/json': { schema: { type: 'object' } } } }, '503': { description: 'not ready (the server is starting or draining)', content: { 'application/json': { schema: { type: 'object' } } } } },
});

const modelMetadata = (params: object[]) => ({
  get: {
    summary: 'Open Inference Protocol: model metadata (name, versions, platform, input and output tensors)',
    parameters: params,
    responses: {
      '200': {
        description: 'the model',
        content: {
          'application/json': {
            schema: {
              type: 'object',
              required: ['name', 'platform', 'inputs', 'outputs'],
              properties: { name: { type: 'string' }, versions: { type: 'array', items: { type: 'string' } }, platform: { type: 'string' }, inputs: { type: 'array', items: metadataTensor }, outputs: { type: 'array', items: metadataTensor } },
            },
          },
        },
      },
      '404': { description: 'no model of that name or version', content: errorContent },
    },
  },
});

const modelReady = (params: object[]) => ({ get: { ...health('Open Inference Protocol: is the model ready', '{"name": "...", "ready": true}'), parameters: params } });

const infer = (params: object[]) => ({
  post: {
    summary: 'Open Inference Protocol: inference on FP32 [N,28,28,1] tensors or (extension) BYTES image files',
    parameters: [
      ...params,
      { name: 'Inference-Header-Content-Length', in: 'header', required: false, schema: { type: 'integer' }, description: 'binary tensor data extension: the length of the JSON part; binary tensors follow it' },
      { name: 'Content-Encoding', in: 'header', required: false, schema: { type: 'string', enum: ['gzip', 'deflate', 'identity'] } },
    ],
    requestBody: {
      required: true,
      description: 'any content type is read as the protocol\'s JSON (curl -d, clients that send none)',
      content: {
        'application/json': { schema: inferenceRequest },
        'application/octet-stream': { schema: { type: 'string', format: 'binary', description: 'the JSON request, then the binary tensors (Inference-Header-Content-Length gives the JSON\'s length)' } },
      },
    },
    responses: {
      '200': {
        description: 'the outputs; with binary outputs, application/octet-stream: the JSON answer (Inference-Header-Content-Length bytes) then the binary tensors',
        content: { 'application/json': { schema: inferenceResponse }, 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } },
      },
      '400': { description: 'malformed JSON, wrong input name, datatype, shape, count or values, undecodable image, unknown output', content: errorContent },
      '404': { description: 'no model of that name or version', content: errorContent },
      '413': { description: 'body over the size limit', content: errorContent },
      '415': { description: 'unsupported content encoding', content: errorContent },
    },
  },
});

/** OpenAPI path items of the v2 routes; every operation keeps its parameters inside it (docsPage lists keys as methods). */
export const OPENAPI_V2_PATHS = {
  '/v2': {
    get: {
      summary: 'Open Inference Protocol: server metadata (name, version, extensions)',
      responses: {
        '200': {
          description: `{"name": "mnist-cnn", "version": "...", "extensions": ${JSON.stringify(V2_NAMES.extensions)}}`,
          content: { 'application/json': { schema: { type: 'object', required: ['name', 'version', 'extensions'], properties: { name: { type: 'string' }, version: { type: 'string' }, extensions: { type: 'array', items: { type: 'string' } } } } } },
        },
      },
    },
  },
  '/v2/health/live': { get: health('Open Inference Protocol: liveness', '{"live": true}') },
  '/v2/health/ready': { get: health('Open Inference Protocol: readiness (the model is loaded and warmed, the server is not draining)', '{"ready": true}') },
  '/v2/models/{name}': modelMetadata([modelName]),
  '/v2/models/{name}/versions/{version}': modelMetadata([modelName, modelVersion]),
  '/v2/models/{name}/ready': modelReady([modelName]),
  '/v2/models/{name}/versions/{version}/ready': modelReady([modelName, modelVersion]),
  '/v2/models/{name}/infer': infer([modelName]),
  '/v2/models/{name}/versions/{version}/infer': infer([modelName, modelVersion]),
};

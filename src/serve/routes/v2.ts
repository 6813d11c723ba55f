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
 * including Fastify's own (bad JSON, body too large) and unknown /v2 routes: the routes are an
 * encapsulated plugin (registered at the prefix /v2) with its own error handler, not-found handler
 * and body parser. Its schemas are routes/v2-schemas.ts's.
 *
 * This file holds the routes, one function each; reading the infer request's tensors and building
 * its answer is routes/v2-tensors.ts's.
 */
import { basename } from 'node:path';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest, FastifySchema } from 'fastify';
import type { Predictor } from '../../predict/predictor.js';
import { UserError } from '../../util/errors.js';
import { VERSION } from '../../util/version.js';
import { ApiError, faultLine, toApiError } from '../errors.js';
import { decorateImageRequests, type ImageReader } from '../inputs.js';
import {
  INFERENCE_BODIES,
  INFERENCE_HEADERS,
  INFERENCE_RESPONSE,
  LIVE,
  MODEL_METADATA,
  modelParams,
  readyAnswer,
  SERVER_METADATA,
  V2_ERRORS,
  V2_NAMES,
} from './v2-schemas.js';
import {
  buildAnswer,
  parseRequest,
  readInputs,
  requestedOutputs,
  requestInput,
  splitBody,
  v2Model,
  type V2Model,
} from './v2-tensors.js';

/** Where the v2 routes are registered. */
export const V2_PREFIX = '/v2';

/** The v2 routes' options: the served model and the server's image rules (ImageReader), its name and readiness. */
export interface V2Options extends ImageReader {
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
type ModelRequest = FastifyRequest<{ Params: Params }>;

/** Each model route answers at both paths. */
const MODEL_PATHS = ['/models/:name', '/models/:name/versions/:version'];
const JSON_TYPE = 'application/json; charset=utf-8';

/** The Open Inference Protocol's routes, an encapsulated plugin to register at V2_PREFIX (error shape, 404s, body parsing). */
export const v2Routes: FastifyPluginAsync<V2Options> = async (v2, options) => {
  const { modelName, isReady } = options;
  if (!modelName || modelName.includes('/'))
    throw new UserError(`model name ${JSON.stringify(modelName)} must be non-empty, with no '/'`);
  const model = v2Model(options, modelName);
  const bodyLimit = v2.initialConfig.bodyLimit ?? 1024 * 1024;

  useProtocolShape(v2, model, bodyLimit);
  decorateImageRequests(v2);
  const schema = (summary: string, response: object, more: FastifySchema = {}): FastifySchema => ({
    summary: `Open Inference Protocol: ${summary}`,
    ...more,
    response: { ...response, ...V2_ERRORS },
  });
  const ready = (withName: boolean) => ({
    200: { description: 'ready', ...readyAnswer(withName) },
    503: { description: 'not ready (the server is starting or draining; Retry-After: 1)', ...readyAnswer(withName) },
  });
  v2.get(
    '/',
    { schema: schema('server metadata (name, version, extensions)', { 200: SERVER_METADATA }) },
    serverMetadata,
  );
  v2.get(
    '/health/live',
    { schema: schema('liveness', { 200: { description: '{"live": true}', ...LIVE } }) },
    healthLive,
  );
  v2.get(
    '/health/ready',
    { schema: schema('readiness (the model is loaded and warmed, the server is not draining)', ready(false)) },
    healthReady(isReady),
  );
  const [metadata, modelIsReady, infer] = [
    modelMetadata(model),
    modelReady(model, isReady),
    inferRoute(model, bodyLimit),
  ];
  for (const prefix of MODEL_PATHS) {
    const params = modelParams(prefix.includes(':version'));
    v2.get(
      prefix,
      {
        schema: schema(
          'model metadata (name, versions, platform, input and output tensors)',
          { 200: MODEL_METADATA },
          { params },
        ),
      },
      metadata,
    );
    v2.get(`${prefix}/ready`, { schema: schema('is the model ready', ready(true), { params }) }, modelIsReady);
    const inferSchema = schema(
      'inference on FP32 [N,28,28,1] tensors or (extension) BYTES image files',
      { 200: INFERENCE_RESPONSE },
      { params, headers: INFERENCE_HEADERS, body: INFERENCE_BODIES },
    );
    // The body is any bytes (the parser above) that the route reads and checks itself, naming
    // the tensor and the problem (routes/v2-tensors.ts): the schemas document, they do not validate.
    v2.post(`${prefix}/infer`, { schema: inferSchema, validatorCompiler: () => () => true }, infer);
  }
};

// ------------------------------------------------------------------ the routes

/** GET /v2: server metadata. */
async function serverMetadata() {
  return { name: 'mnist-cnn', version: VERSION, extensions: V2_NAMES.extensions };
}

/** GET /v2/health/live: up while the process answers, draining or not. */
async function healthLive() {
  return { live: true };
}

/** GET /v2/health/ready: 503 while draining. */
function healthReady(isReady: () => boolean) {
  return async (_request: FastifyRequest, reply: FastifyReply) => {
    if (!isReady()) return notReady(reply, { ready: false });
    return { ready: true };
  };
}

/** GET /v2/models/{name}[/versions/1]: the model's platform and tensors. */
function modelMetadata(model: V2Model) {
  return async (request: ModelRequest) => {
    checkModel(model, request.params);
    return model.metadata;
  };
}

/** GET /v2/models/{name}[/versions/1]/ready: 503 while draining. */
function modelReady(model: V2Model, isReady: () => boolean) {
  return async (request: ModelRequest, reply: FastifyReply) => {
    checkModel(model, request.params);
    if (!isReady()) return notReady(reply, { name: model.name, ready: false });
    return { name: model.name, ready: true };
  };
}

/** POST /v2/models/{name}[/versions/1]/infer: one input tensor (FP32 "input" or BYTES "image"), through the one inference path. */
function inferRoute(model: V2Model, bodyLimit: number) {
  return async (request: ModelRequest, reply: FastifyReply) => {
    checkModel(model, request.params);
    const { json, binary } = splitBody(request, bodyLimit);
    const body = parseRequest(json);
    // The input tensor's name, datatype and shape, and the outputs asked for, are checked before any data is read.
    const input = requestInput(model, body, binary);
    const outputs = requestedOutputs(model, body);
    const predictions = await model.predictor.predict(await readInputs(model, input, request));
    const { answer, chunks } = buildAnswer(model, body.id as string | undefined, outputs, predictions);
    if (chunks.length === 0) return reply.type(JSON_TYPE).send(answer);
    const head = Buffer.from(JSON.stringify(answer));
    return reply
      .header('inference-header-content-length', String(head.length))
      .type('application/octet-stream')
      .send(Buffer.concat([head, ...chunks]));
  };
}

// ------------------------------------------------------------------ shared by the routes

/** The model a URL names, or 404. */
function checkModel(model: V2Model, params: Params): void {
  if (params.name !== model.name)
    throw new ApiError(404, 'not_found', `unknown model '${params.name}': this server serves '${model.name}'`);
  if (params.version !== undefined && params.version !== V2_NAMES.version) {
    throw new ApiError(
      404,
      'not_found',
      `unknown version '${params.version}' of model '${model.name}': the versions are ${JSON.stringify(model.metadata.versions)}`,
    );
  }
}

/** 503 with Retry-After while the server drains. */
function notReady(reply: FastifyReply, body: object) {
  return reply.status(503).header('retry-after', '1').send(body);
}

/** The protocol's error shape, `{"error": "..."}`. */
function sendError(reply: FastifyReply, status: number, message: string) {
  return reply.status(status).type(JSON_TYPE).send({ error: message });
}

/**
 * The plugin's own body parser, error handler and not-found handler, so that every /v2 answer is
 * the protocol's whatever the app around it does (its parsers, its `{error: {status, code, message}}`).
 */
function useProtocolShape(v2: FastifyInstance, model: V2Model, bodyLimit: number): void {
  // Every body is the protocol's: JSON, or JSON then binary tensors, whatever its content type.
  v2.removeAllContentTypeParsers();
  v2.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
  v2.setErrorHandler((err: Error & { code?: string; statusCode?: number }, request, reply) => {
    const apiError = toApiError(err, bodyLimit);
    // One line, and only for our own faults (not for a 503 while draining): errors.ts's faultLine.
    if (apiError.status >= 500 && apiError.code === 'internal')
      console.error(faultLine(request.method, request.url, err));
    void sendError(reply, apiError.status, apiError.message);
  });
  v2.setNotFoundHandler((request, reply) => {
    const name = model.name;
    void sendError(
      reply,
      404,
      `no route for ${request.method} ${request.url.split('?')[0]} in the Open Inference Protocol (GET /v2, /v2/health/live, /v2/health/ready, /v2/models/${name}, /v2/models/${name}/ready; POST /v2/models/${name}/infer)`,
    );
  });
}

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import multipart from '@fastify/multipart';
import * as tf from '@tensorflow/tfjs';
import type { BackendName } from '../backend/index.js';
import { MODEL_FILE, WEIGHTS_FILE } from '../model/io.js';
import { decodeImage } from '../predict/decode.js';
import { Predictor, type Prediction } from '../predict/predictor.js';
import { preprocessImage, preprocessMnistPixels, type Preprocessed } from '../predict/preprocess.js';
import { UserError } from '../util/errors.js';
import { ApiError, errorBody, toApiError } from './errors.js';
import { ServerMetrics } from './metrics.js';
import { docsPage, OPENAPI, PIXELS_OR_IMAGE } from './openapi.js';

export const DEFAULT_BODY_LIMIT = 5 * 1024 * 1024;
export const MAX_BATCH = 256;
const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/webp'];

export interface AppOptions {
  predictor: Predictor;
  /** Largest request body in bytes (default 5 MiB). */
  bodyLimit?: number;
  /** Folder of the built page (default dist/page of this package). */
  pageDir?: string;
}

/** The project root, from this module's place in src/serve or dist/serve. */
const PROJECT_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const DEFAULT_PAGE_DIR = join(PROJECT_ROOT, 'dist', 'page');

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

/** The built page's files, read once at start-up. */
function readPage(dir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  if (!existsSync(dir)) return files;
  for (const name of readdirSync(dir)) files.set(name, readFileSync(join(dir, name)));
  return files;
}

/** {pixels: [...]} → MNIST-form input; count and range checked (422). */
function fromPixels(pixels: number[], where: string): Preprocessed {
  if (pixels.length !== 784) throw new ApiError(422, 'wrong_pixel_count', `${where}pixels has ${pixels.length} values; a 28x28 image needs 784`);
  const bad = pixels.findIndex((v) => !Number.isFinite(v) || v < 0 || v > 255);
  if (bad >= 0) throw new ApiError(422, 'pixel_out_of_range', `${where}pixels[${bad}] is ${pixels[bad]}, outside 0-255`);
  return preprocessMnistPixels(Uint8Array.from(pixels, Math.round));
}

/** Image file bytes → decoded → the shared preprocessing. Undecodable: 400. */
async function fromImageBytes(bytes: Uint8Array, name: string): Promise<Preprocessed> {
  if (bytes.length === 0) throw new ApiError(400, 'bad_image', `${name} is empty`);
  try {
    return preprocessImage(await decodeImage(bytes, name));
  } catch (err) {
    if (err instanceof UserError) throw new ApiError(400, 'bad_image', err.message);
    throw err;
  }
}

function fromBase64(image: string, name: string): Promise<Preprocessed> {
  const payload = image.replace(/^data:[^,]*,/, '');
  if (!/^[A-Za-z0-9+/=\s_-]*$/.test(payload)) throw new ApiError(400, 'bad_image', `${name} is not base64`);
  return fromImageBytes(new Uint8Array(Buffer.from(payload, 'base64')), name);
}

type JsonItem = { pixels: number[] } | { image: string };

function fromJsonItem(item: JsonItem, where: string): Promise<Preprocessed> {
  if (typeof item !== 'object' || item === null) throw new ApiError(415, 'unsupported_media_type', 'send an image, a multipart form or JSON');
  return 'pixels' in item ? Promise.resolve(fromPixels(item.pixels, where)) : fromBase64(item.image, `${where}image`);
}

function answer(prediction: Prediction, input: Preprocessed, explain: boolean): Prediction & { input?: number[] } {
  return explain ? { ...prediction, input: Array.from(input.pixels) } : prediction;
}

const wantsExplain = (request: FastifyRequest) => (request.query as { explain?: string }).explain === '1';

/** Build the HTTP API and page around a loaded Predictor. Does not listen. */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { predictor } = options;
  const bodyLimit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const page = readPage(options.pageDir ?? DEFAULT_PAGE_DIR);
  const metrics = new ServerMetrics();
  const app = Fastify({
    bodyLimit,
    logger: false,
    // The request schemas use oneOf: no coercion or stripping that could make both branches match.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
  });

  // Only JSON, images and multipart forms are bodies here: anything else is a 415.
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser(IMAGE_TYPES, { parseAs: 'buffer', bodyLimit }, (_request, body, done) => done(null, body));
  await app.register(multipart, { limits: { fileSize: bodyLimit, files: MAX_BATCH, fields: 10 } });

  app.addHook('onRequest', async (request) => {
    (request as FastifyRequest & { startedAt: bigint }).startedAt = process.hrtime.bigint();
  });
  app.addHook('onResponse', async (request, reply) => {
    const started = (request as FastifyRequest & { startedAt?: bigint }).startedAt ?? process.hrtime.bigint();
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.observe(request.method, route, reply.statusCode, Number(process.hrtime.bigint() - started) / 1e9);
  });

  // While draining, answers close their connection: a kept-alive idle socket would otherwise hold
  // the process open for Fastify's 72 s keep-alive timeout after the last in-flight request.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
    app.server.closeIdleConnections();
  });
  app.addHook('onSend', async (_request, reply) => {
    if (closing) void reply.header('connection', 'close');
  });

  app.setErrorHandler((err: Error & { code?: string; statusCode?: number; validation?: unknown }, request, reply) => {
    let apiError = toApiError(err, bodyLimit);
    if (err.validation && request.url.startsWith('/v1/predict')) {
      const shape = request.url.startsWith('/v1/predict/batch') ? '{"items": [{"pixels": [784 numbers]} or {"image": "<base64>"}, ...]}' : '{"pixels": [784 numbers]} or {"image": "<base64>"}';
      apiError = new ApiError(400, 'bad_request', `the JSON body must be ${shape} (${err.message})`);
    }
    if (apiError.status === 415 && apiError.message === 'Unsupported Media Type') {
      const type = request.headers['content-type'] ?? '(none)';
      apiError = new ApiError(415, apiError.code, `content type ${type} is not accepted: send image/png, image/jpeg, image/webp, multipart/form-data or application/json`);
    }
    if (apiError.status >= 500) console.error(`${request.method} ${request.url}: ${err.stack ?? err.message}`);
    void reply.status(apiError.status).type('application/json').send(errorBody(apiError));
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send(errorBody(new ApiError(404, 'not_found', `no route for ${request.method} ${request.url.split('?')[0]} (see /docs)`)));
  });

  const jsonBody = (schema: object) => ({ body: { content: { 'application/json': { schema } } } });

  app.post('/v1/predict', { schema: jsonBody(PIXELS_OR_IMAGE) }, async (request) => {
    let input: Preprocessed;
    if (request.isMultipart()) {
      const file = await request.file();
      if (!file) throw new ApiError(400, 'bad_request', 'the multipart form holds no file');
      input = await fromImageBytes(new Uint8Array(await file.toBuffer()), `uploaded file ${file.filename || '(no name)'}`);
    } else if (Buffer.isBuffer(request.body)) {
      input = await fromImageBytes(new Uint8Array(request.body), 'the request body');
    } else {
      input = await fromJsonItem(request.body as JsonItem, '');
    }
    const [prediction] = predictor.predict([input]);
    return answer(prediction, input, wantsExplain(request));
  });

  const batchSchema = { type: 'object', required: ['items'], additionalProperties: false, properties: { items: { type: 'array', minItems: 1, maxItems: MAX_BATCH, items: PIXELS_OR_IMAGE } } };
  app.post('/v1/predict/batch', { schema: jsonBody(batchSchema) }, async (request) => {
    const inputs: Preprocessed[] = [];
    if (request.isMultipart()) {
      for await (const file of request.files()) {
        inputs.push(await fromImageBytes(new Uint8Array(await file.toBuffer()), `uploaded file ${inputs.length} (${file.filename || 'no name'})`));
      }
      if (inputs.length === 0) throw new ApiError(400, 'bad_request', 'the multipart form holds no file');
    } else if (Buffer.isBuffer(request.body)) {
      throw new ApiError(415, 'unsupported_media_type', 'a batch is JSON {"items": [...]} or a multipart form of files');
    } else {
      const { items } = request.body as { items: JsonItem[] };
      for (const [i, item] of items.entries()) inputs.push(await fromJsonItem(item, `items[${i}].`));
    }
    const explain = wantsExplain(request);
    return { predictions: predictor.predict(inputs).map((p, i) => answer(p, inputs[i], explain)) };
  });

  app.get('/healthz', async () => ({ status: 'ok' }));

  const meta = predictor.metadata;
  app.get('/v1/model', async () => ({
    arch: meta.arch,
    params: meta.params,
    testAccuracy: meta.test?.accuracy ?? null,
    testLoss: meta.test?.loss ?? null,
    trainedAt: meta.finishedAt ?? meta.createdAt,
    epochs: meta.epochsCompleted,
    seed: meta.seed,
    preprocessing: predictor.spec,
    classNames: meta.classNames,
    inputShape: meta.inputShape,
    minConfidence: predictor.minConfidence,
    versions: meta.versions,
  }));

  app.get('/metrics', async (_request, reply) => {
    void reply.type('text/plain; version=0.0.4; charset=utf-8');
    return metrics.render();
  });
  app.get('/openapi.json', async () => OPENAPI);
  app.get('/docs', async (_request, reply) => reply.type('text/html; charset=utf-8').send(docsPage()));

  // The model files, for the page's in-browser mode (tf.loadLayersModel('/model/model.json')).
  const modelFiles: Record<string, Buffer> = {
    [MODEL_FILE]: readFileSync(join(predictor.dir, MODEL_FILE)),
    [WEIGHTS_FILE]: readFileSync(join(predictor.dir, WEIGHTS_FILE)),
  };
  app.get('/model/:file', async (request: FastifyRequest<{ Params: { file: string } }>, reply) => {
    const file = modelFiles[request.params.file];
    if (!file) throw new ApiError(404, 'not_found', `no model file ${request.params.file}`);
    return reply.type(request.params.file.endsWith('.json') ? 'application/json' : 'application/octet-stream').send(file);
  });

  const sendPageFile = (name: string, reply: FastifyReply) => {
    const file = page.get(name);
    if (!file) throw new ApiError(404, 'not_found', page.size === 0 ? 'the page is not built: run `npm run build`' : `no page file ${name}`);
    return reply.type(CONTENT_TYPES[extname(name)] ?? 'application/octet-stream').send(file);
  };
  app.get('/', async (_request, reply) => sendPageFile('index.html', reply));
  app.get('/page/:file', async (request: FastifyRequest<{ Params: { file: string } }>, reply) => sendPageFile(request.params.file, reply));

  return app;
}

export interface ServeOptions {
  /** A run folder (default runs/latest). */
  runDir?: string;
  host?: string;
  port?: number;
  bodyLimit?: number;
  minConfidence?: number;
  backend?: BackendName;
  pageDir?: string;
}

export interface RunningServer {
  url: string;
  app: FastifyInstance;
  predictor: Predictor;
  /** Stop accepting, let in-flight requests finish, free the model. */
  close(): Promise<void>;
}

/** Load the model, build the app, listen (127.0.0.1 unless told). */
export async function startServer(options: ServeOptions = {}): Promise<RunningServer> {
  const runDir = options.runDir ?? join('runs', 'latest');
  if (!existsSync(runDir)) {
    throw new UserError(
      runDir === join('runs', 'latest')
        ? 'no model to serve: runs/latest does not exist (train one with `npm start`, or name a run folder: mnist-cnn serve RUN_DIR)'
        : `${runDir} does not exist`,
      runDir,
    );
  }
  const predictor = await Predictor.load(runDir, { backend: options.backend, minConfidence: options.minConfidence });
  warmUp(predictor);
  const app = await buildApp({ predictor, bodyLimit: options.bodyLimit, pageDir: options.pageDir });
  const host = options.host ?? '127.0.0.1';
  await app.listen({ host, port: options.port ?? 3000 });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    app,
    predictor,
    async close() {
      await app.close();
      predictor.dispose();
    },
  };
}

/** The first call through a model compiles its kernels: pay for it before the first request. */
function warmUp(predictor: Predictor): void {
  predictor.predict([preprocessMnistPixels(new Uint8Array(784))]);
  if (tf.memory().numTensors < 0) throw new Error('unreachable');
}

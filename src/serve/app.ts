/**
 * The HTTP API and page around a loaded Predictor: the Fastify instance, its body parsers,
 * hooks and error shape. The routes live in routes/, one file per group; server.ts listens.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import Fastify, { type FastifyInstance } from 'fastify';
import multipart from '@fastify/multipart';
import type { CorrectionStore } from '../data/corrections.js';
import type { Predictor } from '../predict/predictor.js';
import { UserError } from '../util/errors.js';
import { serverDecodeBudget, type DecodeBudget } from './decode-budget.js';
import { ApiError, errorBody, faultLine, MAX_FIELDS, toApiError } from './errors.js';
import { DEFAULT_LIMITS, limitOptions, registerHardening, type Limits } from './hardening.js';
import { API_MEDIA_TYPES, DEFAULT_IMAGE_RULES, type ImageRules } from './inputs.js';
import { ServerMetrics } from './metrics.js';
import { openApiRoutes, registerOpenApi } from './openapi.js';
import { modelRoutes } from './routes/model.js';
import { defaultModelName, V2_PREFIX, v2Routes } from './routes/v2.js';
import { pageRoutes } from './routes/page.js';
import { dataRoutes } from './routes/data.js';
import { correctionRoutes } from './routes/corrections.js';
import { MAX_BATCH, predictRoutes } from './routes/predict.js';
import { serviceRoutes } from './routes/service.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** When the request arrived (process.hrtime.bigint()), for its latency in the metrics. */
    startedAt: bigint;
  }
  interface FastifyInstance {
    /** The image rules the app's routes read pictures by (its plugins are registered with them). */
    imageRules: ImageRules;
  }
}

export const DEFAULT_BODY_LIMIT = 5 * 1024 * 1024;

/** Where a stopping server is: not ready (`draining`: /readyz 503), then refusing new requests (`closing`). */
export interface DrainState {
  draining: boolean;
  closing: boolean;
}

export interface AppOptions {
  /** A Predictor loaded from a run folder (its metadata and model files are served). */
  predictor: Predictor;
  /** Largest request body in bytes (default 5 MiB). */
  bodyLimit?: number;
  /** Folder of the built page (default dist/page of this package). */
  pageDir?: string;
  /** The model's name in the Open Inference Protocol routes (/v2/models/{name}); default: the run folder's name. */
  modelName?: string;
  /**
   * Set by whoever stops the server: `draining` first, and /readyz answers 503 so that load
   * balancers stop sending while requests are still answered (`serve --drain-delay`); then
   * `closing`, and new requests are answered 503 `draining`. Closing the app sets both.
   */
  drain?: DrainState;
  /** Largest image, width x height, decoded (`--max-pixels`; default 4096x4096). */
  maxPixels?: number;
  /** Most pixels of the pictures of one request, added up (`--max-request-pixels`; default DEFAULT_MAX_REQUEST_PIXELS). */
  maxRequestPixels?: number;
  /** The memory decodes share across requests (default: a share of the container's limit, or of DEFAULT_MAX_MEMORY). */
  decodeBudget?: DecodeBudget;
  /** Request and idle timeouts, requests in flight (default DEFAULT_LIMITS). */
  limits?: Partial<Limits>;
  /** An origin whose pages may call the API (`--cors`); CORS is off without it. */
  corsOrigin?: string;
  /** Requests a minute from one address (`--rate-limit`); no limit without it. */
  rateLimit?: number;
  /**
   * An HTTP server already listening (server.ts listens before the model loads, answering
   * `answerWhileStarting`): the app takes over its requests. Whoever made it sets its timeouts
   * and closes it; the app does neither. Default: the app makes its own, for `app.listen`.
   */
  server?: Server;
  /** The corrections folder of `serve --corrections DIR` (routes/corrections.ts); none filed without it. */
  corrections?: CorrectionStore;
}

/** Build the HTTP API and page around a loaded Predictor. Does not listen. */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { predictor } = options;
  if (!predictor.metadata) throw new UserError('the server needs a model loaded from a run folder (Predictor.load)');
  const bodyLimit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const rules: ImageRules = {
    ...DEFAULT_IMAGE_RULES,
    maxPixels: options.maxPixels ?? DEFAULT_IMAGE_RULES.maxPixels,
    maxRequestPixels: options.maxRequestPixels ?? DEFAULT_IMAGE_RULES.maxRequestPixels,
    budget: options.decodeBudget ?? serverDecodeBudget(),
  };
  const server = options.server;
  const app = Fastify({
    bodyLimit,
    logger: false,
    ...limitOptions(limits),
    ...(server
      ? {
          serverFactory: (handler: (request: IncomingMessage, response: ServerResponse) => void) =>
            adopt(server, handler),
        }
      : {}),
    // The request schemas use oneOf: no coercion or stripping that could make both branches match.
    // strictTypes off: a multipart form's schema lists its file parts with no `type` (Fastify
    // validates null there, @fastify/multipart reads the parts), and Ajv would log each one.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false, strictTypes: false } },
  });
  app.decorate('imageRules', rules);

  // Only JSON, images and multipart forms are bodies here: anything else is a 415.
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser(API_MEDIA_TYPES, { parseAs: 'buffer', bodyLimit }, (_request, body, done) =>
    done(null, body),
  );
  // The body limit caps a whole form too (inputs.ts: readFormFiles); these are busboy's own caps.
  await app.register(multipart, {
    limits: {
      fileSize: bodyLimit,
      files: MAX_BATCH,
      fields: MAX_FIELDS,
      parts: MAX_BATCH + MAX_FIELDS,
      fieldSize: 64 * 1024,
      headerPairs: 100,
    },
  });

  let inFlight = () => 0;
  const metrics = new ServerMetrics(() => inFlight());
  const stopObserving = predictor.onModelCall((call) => metrics.modelCall(call));
  app.addHook('onClose', async () => stopObserving());
  app.decorateRequest('startedAt', 0n);
  app.addHook('onRequest', async (request) => {
    request.startedAt = process.hrtime.bigint();
  });
  app.addHook('onResponse', async (request, reply) => {
    const started = request.startedAt || process.hrtime.bigint();
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.observe(request.method, route, reply.statusCode, Number(process.hrtime.bigint() - started) / 1e9);
  });

  // While draining, answers close their connection: a kept-alive idle socket would otherwise hold
  // the process open for the keep-alive timeout after the last in-flight request.
  const drain = options.drain ?? { draining: false, closing: false };
  ({ inFlight } = await registerHardening(app, {
    limits,
    corsOrigin: options.corsOrigin,
    rateLimit: options.rateLimit,
    isClosing: () => drain.closing,
    onRefusal: (reason) => metrics.refused(reason),
  }));
  app.addHook('preClose', async () => {
    drain.draining = true;
    drain.closing = true;
    app.server.closeIdleConnections();
  });
  app.addHook('onSend', async (_request, reply) => {
    if (drain.draining) void reply.header('connection', 'close');
  });

  // The API's error shape for every route; a route or plugin with its own (routes/predict.ts's
  // body shapes, routes/v2.ts's protocol shape) sets it on itself.
  app.setErrorHandler((err: Error & { code?: string; statusCode?: number; validation?: unknown }, request, reply) => {
    let apiError = toApiError(err, { bodyLimit, maxFiles: MAX_BATCH });
    if (apiError.status === 415 && apiError.message === 'Unsupported Media Type') {
      const type = request.headers['content-type'] ?? '(none)';
      apiError = new ApiError(
        415,
        apiError.code,
        `content type ${type} is not accepted: send image/png, image/jpeg, image/webp, image/bmp, multipart/form-data or application/json`,
      );
    }
    if (apiError.status >= 500 && apiError.code === 'internal')
      console.error(faultLine(request.method, request.url, err));
    void reply.status(apiError.status).headers(apiError.headers).type('application/json').send(errorBody(apiError));
  });
  app.setNotFoundHandler((request, reply) => {
    void reply
      .status(404)
      .send(
        errorBody(
          new ApiError(404, 'not_found', `no route for ${request.method} ${request.url.split('?')[0]} (see /docs)`),
        ),
      );
  });

  // @fastify/swagger first: it documents the routes registered after it, from their schemas.
  await registerOpenApi(app);
  const reader = { predictor, rules };
  await app.register(predictRoutes, reader);
  await app.register(serviceRoutes, { metrics, isDraining: () => drain.draining });
  await app.register(openApiRoutes);
  await app.register(modelRoutes, { predictor });
  await app.register(v2Routes, {
    ...reader,
    prefix: V2_PREFIX,
    modelName: options.modelName ?? defaultModelName(predictor),
    isReady: () => !drain.draining,
  });
  await app.register(pageRoutes, { pageDir: options.pageDir });
  // The MNIST files, for the page's Train panel.
  await app.register(dataRoutes);
  // "Wrong? It is a 7" from the page, into the corrections folder (serve --corrections DIR).
  await app.register(correctionRoutes, { store: options.corrections });
  return app;
}

/** Hand a listening server's requests (and its client errors: Fastify adds its own handler) to the app. */
function adopt(server: Server, handler: (request: IncomingMessage, response: ServerResponse) => void): Server {
  server.removeAllListeners('request');
  server.removeAllListeners('clientError');
  server.on('request', handler);
  return server;
}

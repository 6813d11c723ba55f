/**
 * What keeps the server up under abuse, in one place: time limits on every request and idle
 * connection, a cap on requests in flight (503 + Retry-After beyond it), Node's and Fastify's
 * own error answers in the API's error shape, security headers (helmet's: a strict CSP under
 * which the page and its in-browser mode run), CORS only when asked for (@fastify/cors),
 * and an optional per-address rate limit (@fastify/rate-limit).
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import cors from '@fastify/cors';
import helmet, { type HelmetOptions } from 'helmet';
import rateLimit from '@fastify/rate-limit';
import type { FastifyError, FastifyHttpOptions, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, errorBody, toApiError, type ApiErrorBody } from './errors.js';
import { DOCS_STYLE_HASH } from './openapi.js';

export interface Limits {
  /** Longest a client may take to send a whole request, headers and body (ms; 408 after). */
  requestTimeoutMs: number;
  /** Longest a kept-alive connection may sit idle between requests (ms). */
  idleTimeoutMs: number;
  /** Requests being received or answered at once; more are answered 503 with Retry-After. */
  maxInFlight: number;
}

export const DEFAULT_LIMITS: Limits = { requestTimeoutMs: 30_000, idleTimeoutMs: 5_000, maxInFlight: 64 };

/** Routes that probes and scrapers call: never shed nor rate-limited, so a busy server is not restarted for it. */
const SERVICE_ROUTES = new Set(['/healthz', '/readyz', '/metrics', '/v2/health/live', '/v2/health/ready']);
const isServiceRoute = (url: string) => SERVICE_ROUTES.has(url.split('?')[0]);

/**
 * Fastify's constructor options for the limits: Node's request, header and keep-alive timeouts
 * (checked every second rather than Node's default 30 s), and the answers Node and the router give by themselves (malformed
 * HTTP, 408, 431, a bad URL) in the API's error shape.
 */
export function limitOptions(limits: Limits): Partial<FastifyHttpOptions<Server>> {
  const { requestTimeoutMs, idleTimeoutMs } = limits;
  return {
    requestTimeout: requestTimeoutMs,
    keepAliveTimeout: idleTimeoutMs,
    // A socket with no traffic either way for this long is closed, whatever it is doing.
    connectionTimeout: 2 * requestTimeoutMs + 10_000,
    // No `handlerTimeout`: limitInFlight bounds the handlers' time itself (see there).
    // Requests that arrive while the server drains are answered in limitInFlight, in our shape.
    return503OnClosing: false,
    http: { connectionsCheckingInterval: 1_000, headersTimeout: Math.min(10_000, requestTimeoutMs) },
    clientErrorHandler,
    frameworkErrors(error: FastifyError, _request: FastifyRequest, reply: FastifyReply) {
      const apiError = toApiError(error, 0);
      void reply.status(apiError.status).type('application/json; charset=utf-8').send(errorBody(apiError));
    },
  };
}

/** Node's own refusals (malformed HTTP, headers too large, a request too slow) as JSON in our shape, then close. */
function clientErrorHandler(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, code, message] =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'request_timeout', 'the request was not received in time']
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'headers_too_large', 'the request headers are too large']
        : [400, 'bad_http', `the request is not valid HTTP${err.code ? ` (${err.code})` : ''}`];
  // A response already on its way cannot be replaced: only close.
  const response = (socket as Socket & { _httpMessage?: ServerResponse })._httpMessage;
  if (socket.writable && !response?.headersSent) {
    const body = JSON.stringify(errorBody(new ApiError(status, code, message)));
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy();
}

/** The security headers' settings: a strict CSP (no inline script, no eval), no framing, no HSTS. */
function helmetOptions(corsOrigin: string | undefined): HelmetOptions {
  return {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        'default-src': ["'self'"],
        // The page is one module script and its chunks; TensorFlow.js's cpu backend needs no eval.
        'script-src': ["'self'"],
        'script-src-attr': ["'none'"],
        'style-src': ["'self'", `'${DOCS_STYLE_HASH}'`],
        'img-src': ["'self'", 'data:', 'blob:'],
        'connect-src': ["'self'"],
        'font-src': ["'self'"],
        'object-src': ["'none'"],
        'base-uri': ["'none'"],
        'form-action': ["'self'"],
        'frame-ancestors': ["'none'"],
      },
    },
    // Plain HTTP here: HSTS belongs to whatever terminates TLS in front of this server.
    strictTransportSecurity: false,
    xFrameOptions: { action: 'deny' },
    crossOriginResourcePolicy: { policy: corsOrigin ? 'cross-origin' : 'same-origin' },
  };
}

/**
 * helmet's headers for these settings, worked out once: with no nonces every one is a constant,
 * so each answer gets them in one `reply.headers` call. @fastify/helmet ran helmet's middleware
 * on every request (an async hook, the CSP string built again): ~30-39 µs of CPU per request,
 * a tenth of what the server spent on a 28x28 PNG (CPU profile, 64 connections, AMD EPYC).
 */
function securityHeaders(options: HelmetOptions): Record<string, string> {
  const headers: Record<string, string> = {};
  const collect = {
    setHeader(name: string, value: string | number) {
      headers[name.toLowerCase()] = String(value);
    },
    removeHeader() {},
  };
  helmet(options)({} as IncomingMessage, collect as unknown as ServerResponse, (err?: unknown) => {
    if (err) throw err;
  });
  return headers;
}

export interface HardeningOptions {
  limits: Limits;
  /** An origin allowed to call the API from its pages (`--cors`); none by default. */
  corsOrigin?: string;
  /** Requests a minute from one client address (`--rate-limit`); 0 or absent: no limit. */
  rateLimit?: number;
  /** True once the server is stopping: new requests are answered 503 (probes still answer). */
  isDraining: () => boolean;
}

/**
 * The page (/ and its files under /page/) is cross-origin isolated: COOP same-origin (helmet's
 * default, on every answer) and COEP require-corp here. Its Train panel shares the weights and
 * the batch between its workers through SharedArrayBuffers, which browsers allow only then.
 */
const isPageRoute = (url: string) => url === '/' || url.startsWith('/?') || url.startsWith('/page/');
const CROSS_ORIGIN_ISOLATION = { 'cross-origin-embedder-policy': 'require-corp' };
/**
 * The Train panel's worker scripts, the only code of ours that compiles WebAssembly (the wasm
 * backend that trains): their CSP allows it ('wasm-unsafe-eval', a worker's own CSP being its
 * script's), the page's and every other answer's does not.
 */
const isTrainWorker = (url: string) => /^\/page\/train-(worker|replica)\.js(\?|$)/.test(url);

/** Register the headers, CORS, rate limit and in-flight cap on the app (before its routes). */
export async function registerHardening(app: FastifyInstance, options: HardeningOptions): Promise<void> {
  const headers = securityHeaders(helmetOptions(options.corsOrigin));
  const pageHeaders = { ...headers, ...CROSS_ORIGIN_ISOLATION };
  const workerHeaders = { ...pageHeaders, 'content-security-policy': headers['content-security-policy'].replace("script-src 'self'", "script-src 'self' 'wasm-unsafe-eval'") };
  app.addHook('onRequest', (request, reply, done) => {
    void reply.headers(isTrainWorker(request.url) ? workerHeaders : isPageRoute(request.url) ? pageHeaders : headers);
    done();
  });
  if (options.corsOrigin) {
    await app.register(cors, { origin: options.corsOrigin === '*' ? '*' : options.corsOrigin, methods: ['GET', 'POST'], maxAge: 600 });
  }
  if (options.rateLimit) {
    const max = options.rateLimit;
    await app.register(rateLimit, {
      max,
      timeWindow: 60_000,
      allowList: (request) => isServiceRoute(request.url),
      errorResponseBuilder: (_request, context) =>
        new ApiError(429, 'rate_limited', `more than ${max} requests a minute from this address: retry in ${context.after}`, { 'retry-after': String(Math.ceil(context.ttl / 1000)) }),
    });
  }
  limitInFlight(app, options.limits, options.isDraining);
}

/** How long a handler may take to answer, from its request's arrival: a little past the request timeout. */
export const handlerTimeLimitMs = (limits: Pick<Limits, 'requestTimeoutMs'>) => limits.requestTimeoutMs + 5_000;

/** A 503 that asks the client to retry in a second, on a fresh connection. */
function refuse(reply: FastifyReply, body: ApiErrorBody): void {
  void reply.status(503).header('retry-after', '1').header('connection', 'close').type('application/json; charset=utf-8').send(body);
}

/**
 * At most `max` requests in flight (received, being answered); the next one is a 503 with
 * Retry-After, as is every request that arrives while the server drains. A request not answered
 * within the handler time limit is answered 503 `timeout` (what is still working on it finds the
 * answer sent). That limit is kept here, by one sweep a second over the requests in flight,
 * rather than by Fastify's `handlerTimeout`: Fastify 5.12 gives every request an AbortController
 * for it and aborts it when the answer is sent, building a DOMException each time, ~50 µs of CPU
 * per request, a sixth of all the server spent on a 28x28 PNG (CPU profile under 64 connections,
 * AMD EPYC; fastify/fastify#7033).
 */
function limitInFlight(app: FastifyInstance, limits: Limits, isDraining: () => boolean): void {
  const max = limits.maxInFlight;
  const limitMs = handlerTimeLimitMs(limits);
  let inFlight = 0;
  // In arrival order, so in deadline order: the sweep stops at the first one not yet due.
  const deadlines = new Map<FastifyReply, number>();
  const timeout = errorBody(new ApiError(503, 'timeout', `the answer took longer than the time limit of ${limitMs / 1000} s`));
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const [reply, deadline] of deadlines) {
      if (deadline > now) break;
      deadlines.delete(reply);
      if (!reply.sent) refuse(reply, timeout);
    }
  }, 1_000);
  sweep.unref();
  app.addHook('onClose', (_app, done) => {
    clearInterval(sweep);
    done();
  });
  app.addHook('onRequest', (request, reply, done) => {
    if (isServiceRoute(request.url)) return done();
    const refusal = isDraining()
      ? new ApiError(503, 'draining', 'the server is shutting down: retry (another server will answer)')
      : inFlight >= max
        ? new ApiError(503, 'busy', `the server is answering ${max} requests, its limit: retry in a second`)
        : undefined;
    if (refusal) {
      refuse(reply, errorBody(refusal));
      return;
    }
    inFlight++;
    deadlines.set(reply, Date.now() + limitMs);
    let counted = true;
    // 'close' comes once the answer is sent or the client has gone, whichever is first.
    (reply.raw as ServerResponse<IncomingMessage>).once('close', () => {
      if (counted) inFlight--;
      counted = false;
      deadlines.delete(reply);
    });
    done();
  });
}

/**
 * At most `max` connections open at once. Beyond it a connection is answered 503 with
 * Retry-After and closed, before any HTTP parsing: the server's own connection handlers see
 * only connections under the cap.
 */
export function capConnections(server: Server, max: number): void {
  const handlers = server.listeners('connection') as ((socket: Socket) => void)[];
  server.removeAllListeners('connection');
  let open = 0;
  const body = JSON.stringify(errorBody(new ApiError(503, 'busy', `the server has ${max} connections open, its limit: retry in a second`)));
  const refusal = `HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Type: application/json; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
  server.on('connection', (socket: Socket) => {
    if (open >= max) {
      socket.on('error', () => {});
      // Read and drop what the client sends, so that closing does not reset the answer away.
      socket.resume();
      socket.end(refusal);
      socket.setTimeout(2_000, () => socket.destroy());
      return;
    }
    open++;
    socket.once('close', () => open--);
    for (const handler of handlers) handler.call(server, socket);
  });
}

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
import { ApiError, errorBody, toApiError, type ApiErrorBody, type ApiErrorCode } from './errors.js';
import type { RefusalReason } from './metrics.js';
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
    // requireHostHeader: Node's own refusal of a request with no Host header is an empty 400;
    // limitInFlight refuses it in the API's shape instead.
    http: {
      connectionsCheckingInterval: 1_000,
      headersTimeout: Math.min(10_000, requestTimeoutMs),
      requireHostHeader: false,
    },
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
  const [status, code, message]: [number, ApiErrorCode, string] =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'request_timeout', 'the request was not received in time']
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'headers_too_large', 'the request headers are too large']
        : [400, 'bad_http', `the request is not valid HTTP${err.code ? ` (${err.code})` : ''}`];
  // A response already on its way cannot be replaced: only close.
  const response = (socket as Socket & { _httpMessage?: ServerResponse })._httpMessage;
  if (socket.writable && !response?.headersSent)
    socket.write(answerText(status, errorBody(new ApiError(status, code, message)), {}));
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
 * on every request (an async hook, the CSP string built again): a visible share of the CPU the
 * server spent on a 28x28 PNG (CPU profile under many connections; the server's CPU per request:
 * `npm run bench -- --only http`).
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
    if (err) throw err instanceof Error ? err : new Error('helmet failed', { cause: err });
  });
  return headers;
}

export interface HardeningOptions {
  limits: Limits;
  /** An origin allowed to call the API from its pages (`--cors`); none by default. */
  corsOrigin?: string;
  /** Requests a minute from one client address (`--rate-limit`); 0 or absent: no limit. */
  rateLimit?: number;
  /** True once the server is closing: new requests are answered 503 `draining` (probes still answer). */
  isClosing: () => boolean;
  /** Told of each request refused by these limits, with the reason (the server's metrics). */
  onRefusal?: (reason: RefusalReason) => void;
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

/**
 * Register the headers, CORS, rate limit and in-flight cap on the app (before its routes).
 * Returns the count of requests in flight, for the metrics.
 */
export async function registerHardening(
  app: FastifyInstance,
  options: HardeningOptions,
): Promise<{ inFlight: () => number }> {
  const onRefusal = options.onRefusal ?? (() => {});
  const headers = securityHeaders(helmetOptions(options.corsOrigin));
  const pageHeaders = { ...headers, ...CROSS_ORIGIN_ISOLATION };
  const workerHeaders = {
    ...pageHeaders,
    'content-security-policy': headers['content-security-policy'].replace(
      "script-src 'self'",
      "script-src 'self' 'wasm-unsafe-eval'",
    ),
  };
  app.addHook('onRequest', (request, reply, done) => {
    void reply.headers(isTrainWorker(request.url) ? workerHeaders : isPageRoute(request.url) ? pageHeaders : headers);
    done();
  });
  if (options.corsOrigin) {
    await app.register(cors, {
      origin: options.corsOrigin === '*' ? '*' : options.corsOrigin,
      methods: ['GET', 'POST'],
      maxAge: 600,
    });
  }
  if (options.rateLimit) {
    const max = options.rateLimit;
    await app.register(rateLimit, {
      max,
      timeWindow: 60_000,
      allowList: (request) => isServiceRoute(request.url),
      errorResponseBuilder: (_request, context) => {
        onRefusal('rate_limited');
        return new ApiError(
          429,
          'rate_limited',
          `more than ${max} requests a minute from this address: retry in ${context.after}`,
          { 'retry-after': String(Math.ceil(context.ttl / 1000)) },
        );
      },
    });
  }
  return limitInFlight(app, options.limits, options.isClosing, onRefusal);
}

/** How long a handler may take to answer, from its request's arrival: a little past the request timeout. */
export const handlerTimeLimitMs = (limits: Pick<Limits, 'requestTimeoutMs'>) => limits.requestTimeoutMs + 5_000;

/**
 * A 503 that asks the client to retry in a second, on a fresh connection. Sent as JSON text, so
 * that the route's response schemas (the /v2 routes' error shape) do not reshape it.
 */
function refuse(reply: FastifyReply, body: ApiErrorBody): void {
  void reply
    .status(503)
    .header('retry-after', '1')
    .header('connection', 'close')
    .type('application/json; charset=utf-8')
    .send(JSON.stringify(body));
}

/** A request in flight: when it is given up, and what aborts the work done for it (made when first asked for). */
interface RequestWork {
  deadline: number;
  controller?: AbortController;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the in-flight cap (limitInFlight) for each request it counts; null for probes. */
    work: RequestWork | null;
  }
}

const NEVER = new AbortController().signal;

/** Why work for a request stops: it was answered 503 `timeout`, or its client went away. */
const TIMED_OUT = new ApiError(503, 'timeout', 'the answer took longer than its time limit');
const CLIENT_GONE = new ApiError(499, 'client_gone', 'the client closed the connection before the answer');

/**
 * Aborted once `request` is given up: answered 503 `timeout` at the handler time limit, or its
 * client gone before the answer. Work done for a request (decoding its pictures) takes it, so
 * that none is left once nobody waits for it. A request not counted in flight (a probe) gets a
 * signal that never aborts.
 */
export function requestSignal(request: FastifyRequest): AbortSignal {
  const work = request.work;
  if (!work) return NEVER;
  work.controller ??= new AbortController();
  return work.controller.signal;
}

/** Milliseconds left before `request` is answered 503 `timeout` (Infinity for one not counted in flight). */
export function requestTimeLeftMs(request: FastifyRequest): number {
  const work = request.work;
  return work ? work.deadline - Date.now() : Infinity;
}

/**
 * At most `max` requests in flight (received, being answered); the next one is a 503 with
 * Retry-After, as is every request that arrives while the server closes. A request not answered
 * within the handler time limit is answered 503 `timeout`, and the work for it is aborted
 * (requestSignal), as it is when its client goes away first. That limit is kept here, by one
 * sweep a second over the requests in flight, rather than by Fastify's `handlerTimeout`: Fastify
 * 5.12 gives every request an AbortController for it and aborts it when the answer is sent,
 * building a DOMException each time, a visible share of all the server spent on a 28x28 PNG
 * (CPU profile under many connections; fastify/fastify#7033). Here a
 * request's controller is made only when work asks for its signal, and aborted only when the
 * request is given up, with a reason of ours (no DOMException).
 *
 * An HTTP/1.1 request with no Host header (which Node would answer with an empty 400) is a 400
 * in the API's shape here.
 */
function limitInFlight(
  app: FastifyInstance,
  limits: Limits,
  isClosing: () => boolean,
  onRefusal: (reason: RefusalReason) => void,
): { inFlight: () => number } {
  const max = limits.maxInFlight;
  const limitMs = handlerTimeLimitMs(limits);
  let inFlight = 0;
  // In arrival order, so in deadline order: the sweep stops at the first one not yet due.
  const deadlines = new Map<FastifyReply, RequestWork>();
  const timeout = errorBody(
    new ApiError(503, 'timeout', `the answer took longer than the time limit of ${limitMs / 1000} s`),
  );
  const noHost = errorBody(new ApiError(400, 'bad_request', 'the request has no Host header, which HTTP/1.1 requires'));
  app.decorateRequest('work', null);
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const [reply, work] of deadlines) {
      if (work.deadline > now) break;
      deadlines.delete(reply);
      if (!reply.sent) {
        onRefusal('timeout');
        refuse(reply, timeout);
      }
      work.controller?.abort(TIMED_OUT);
    }
  }, 1_000);
  sweep.unref();
  app.addHook('onClose', (_app, done) => {
    clearInterval(sweep);
    done();
  });
  app.addHook('onRequest', (request, reply, done) => {
    const raw = request.raw;
    if (request.headers.host === undefined && raw.httpVersionMajor === 1 && raw.httpVersionMinor >= 1) {
      void reply
        .status(400)
        .header('connection', 'close')
        .type('application/json; charset=utf-8')
        .send(JSON.stringify(noHost));
      return;
    }
    if (isServiceRoute(request.url)) return done();
    const refusal = isClosing()
      ? new ApiError(503, 'draining', 'the server is shutting down: retry (another server will answer)')
      : inFlight >= max
        ? new ApiError(503, 'busy', `the server is answering ${max} requests, its limit: retry in a second`)
        : undefined;
    if (refusal) {
      onRefusal(refusal.code === 'draining' ? 'draining' : 'busy');
      refuse(reply, errorBody(refusal));
      return;
    }
    inFlight++;
    const work: RequestWork = { deadline: Date.now() + limitMs };
    deadlines.set(reply, work);
    request.work = work;
    let counted = true;
    // 'close' comes once the answer is sent or the client has gone, whichever is first.
    const response = reply.raw;
    response.once('close', () => {
      if (counted) inFlight--;
      counted = false;
      deadlines.delete(reply);
      if (!response.writableFinished) work.controller?.abort(CLIENT_GONE);
    });
    done();
  });
  return { inFlight: () => inFlight };
}

/** What a probe path answers now (routes/service.ts's probeAnswer in the server's phase); undefined for any other path. */
export type ProbeAnswerer = (path: string) => { status: number; body: object } | undefined;

/** How long a connection over the cap may take to send its request line before it is refused (ms). */
const PROBE_WAIT_MS = 1_000;

/**
 * At most `max` connections open at once. Beyond it a connection is not handed to the HTTP
 * server: its request line is read here, and a probe (GET or HEAD of a probe path: `probes`
 * says which, and what it answers) is answered at once; anything else, or nothing within a
 * second, is answered 503 `busy` with Retry-After. Then the connection is closed. So holding every
 * connection (idle ones, issue #24) never makes `/healthz` or `/readyz` fail, and the answer
 * costs no HTTP parsing. At most `max` connections more are read this way at once; beyond that
 * they are refused at once.
 */
export function capConnections(server: Server, max: number, probes?: ProbeAnswerer): void {
  const handlers = server.listeners('connection') as ((socket: Socket) => void)[];
  server.removeAllListeners('connection');
  let open = 0;
  let reading = 0;
  const refusal = answerText(
    503,
    errorBody(new ApiError(503, 'busy', `the server has ${max} connections open, its limit: retry in a second`)),
    { 'Retry-After': '1' },
  );
  const finish = (socket: Socket, answer: string) => {
    // Read and drop what the client sends, so that closing does not reset the answer away.
    socket.resume();
    socket.end(answer);
    socket.setTimeout(2_000, () => socket.destroy());
  };
  server.on('connection', (socket: Socket) => {
    if (open < max) {
      open++;
      socket.once('close', () => open--);
      for (const handler of handlers) handler.call(server, socket);
      return;
    }
    socket.on('error', () => {});
    if (!probes || reading >= max) return finish(socket, refusal);
    reading++;
    let head = '';
    const done = (answer: string) => {
      clearTimeout(timer);
      socket.off('data', onData);
      reading--;
      finish(socket, answer);
    };
    const timer = setTimeout(() => done(refusal), PROBE_WAIT_MS);
    const onData = (chunk: Buffer) => {
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n');
      if (end < 0 && head.length < 2048) return;
      const line = /^(GET|HEAD) ([^ ?]*)\S* HTTP\/1\.[01]$/.exec(head.slice(0, end));
      const answer = line ? probes(line[2]) : undefined;
      done(
        answer
          ? answerText(
              answer.status,
              answer.body,
              answer.status === 503 ? { 'Retry-After': '1' } : {},
              line?.[1] === 'HEAD',
            )
          : refusal,
      );
    };
    socket.on('data', onData);
  });
}

/** A whole HTTP/1.1 answer with a JSON body that closes its connection. */
function answerText(status: number, body: object, headers: Record<string, string>, headOnly = false): string {
  const text = JSON.stringify(body);
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}`,
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    'Content-Type: application/json; charset=utf-8',
    'X-Content-Type-Options: nosniff',
    `Content-Length: ${Buffer.byteLength(text)}`,
    'Connection: close',
  ];
  return `${lines.join('\r\n')}\r\n\r\n${headOnly ? '' : text}`;
}

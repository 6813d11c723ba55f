import { createServer, type Server } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { BackendName, RuntimeName } from '../backend/names.js';
import { PIXELS } from '../data/types.js';
import { DEFAULT_MAX_PIXELS } from '../image/decode.js';
import { resolveRunDir } from '../model/run.js';
import { DEFAULT_SHIPPED_MODEL } from '../model/shipped.js';
import { CorrectionStore } from '../data/corrections.js';
import { Predictor } from '../predict/predictor.js';
import { DEFAULT_INFER_BATCH } from '../predict/set-inference.js';
import { UserError } from '../util/errors.js';
import { buildApp, DEFAULT_BODY_LIMIT, type DrainState } from './app.js';
import { serverDecodeBudget } from './decode-budget.js';
import { capConnections, DEFAULT_LIMITS, limitOptions, type Limits } from './hardening.js';
import { DEFAULT_MAX_REQUEST_PIXELS } from './inputs.js';
import { answerWhileStarting, probeAnswer } from './routes/service.js';

/** Connections open at once (`--max-connections`); more are answered 503. */
const DEFAULT_MAX_CONNECTIONS = 256;
/** How long a stopping server lets in-flight requests finish before it closes their connections (ms). */
export const DEFAULT_DRAIN_TIMEOUT_MS = 10_000;
/**
 * How long a server told to stop (SIGTERM) stays open with /readyz answering 503 `draining`
 * before it closes its port (ms; `--drain-delay`): load balancers see it leave and stop sending,
 * while what they still send is answered. 0 by default (a server stopped by hand stops at once);
 * the Kubernetes manifest sets 5 s.
 */
export const DEFAULT_DRAIN_DELAY_MS = 0;
/** The largest pixel limit: libvips' own, 16383x16383. */
const MAX_PIXEL_LIMIT = 0x3fff * 0x3fff;
/**
 * Micro-batching window of `serve` (ms; `--batch-window`). 0 waits for nothing: it merges the
 * predictions already queued when the event loop turns and those that arrive while a model call
 * runs, so one connection pays no delay. Under many connections (onnx, 28x28 PNGs) it answered
 * more requests per second, with a lower p99, than micro-batching off; windows of 1 or 2 ms added
 * little to that, but a window holds every lone request for its length, so the default
 * waits for nothing. Off against on: `npm run bench -- --only http`.
 */
const DEFAULT_BATCH_WINDOW_MS = 0;
/** Most images in one merged model call (`--max-batch`). */
const DEFAULT_SERVE_MAX_BATCH = 64;
/** The largest body limit accepted: 1 GiB. */
const MAX_BODY_LIMIT = 1024 * 1024 * 1024;
/** The smallest memory limit accepted: 256 MiB (the process alone, model loaded, takes most of it). */
const MIN_MAX_MEMORY = 256 * 1024 * 1024;

export interface ServeOptions {
  /** A run folder, or a shipped model's name (default: the model shipped in the package). */
  runDir?: string;
  host?: string;
  port?: number;
  bodyLimit?: number;
  minConfidence?: number;
  backend?: BackendName;
  /** Threads per model call (default 1: `--workers` scales a server by processes instead). */
  threads?: number;
  pageDir?: string;
  /** The model's name in the Open Inference Protocol routes (default: the run folder's name). */
  modelName?: string;
  /** Largest image, width x height (default 4096x4096). */
  maxPixels?: number;
  /** Request and idle timeouts and requests in flight (default DEFAULT_LIMITS). */
  limits?: Partial<Limits>;
  /** Connections open at once (default DEFAULT_MAX_CONNECTIONS). */
  maxConnections?: number;
  /** Time in-flight requests get to finish once stopping (ms, default DEFAULT_DRAIN_TIMEOUT_MS). */
  drainTimeoutMs?: number;
  /** Time between the stop signal and closing the port, /readyz 503 meanwhile (ms, default DEFAULT_DRAIN_DELAY_MS). */
  drainDelayMs?: number;
  /**
   * Bytes of memory the server may use (`--max-memory`; default: the container's limit, else
   * DEFAULT_MAX_MEMORY): decodes share a part of it (decode-budget.ts).
   */
  maxMemory?: number;
  /** Serving processes that share that memory (`--workers`; default 1). */
  processes?: number;
  /** Most pixels of the pictures of one request, added up (default DEFAULT_MAX_REQUEST_PIXELS). */
  maxRequestPixels?: number;
  /** An origin whose pages may call the API; CORS is off without it. */
  corsOrigin?: string;
  /** Requests a minute from one client address; no limit without it. */
  rateLimit?: number;
  /** What runs the model (default DEFAULT_RUNTIME, backend/names.ts). */
  runtime?: RuntimeName;
  /**
   * Micro-batching: predictions that arrive within this many ms are one model call (Predictor's
   * `batchWindowMs`; default DEFAULT_BATCH_WINDOW_MS); null: every request is a model call of its own.
   */
  batchWindowMs?: number | null;
  /** Most images in one merged model call (default DEFAULT_SERVE_MAX_BATCH). */
  maxBatch?: number;
  /**
   * Called (and awaited) once the server listens, before its model loads: /readyz answers 503
   * `starting` meanwhile. For tests and callers that print the address at once.
   */
  onListening?: (url: string) => unknown;
  /** A folder to file the page's corrections into (`--corrections`, routes/corrections.ts); off without it. */
  corrections?: string;
}

export interface RunningServer {
  url: string;
  app: FastifyInstance;
  predictor: Predictor;
  /**
   * Turn /readyz 503 for the drain delay (answering everything else meanwhile), then stop
   * accepting, let in-flight requests finish (for the drain timeout at most), free the model.
   * `drainDelayMs` overrides the server's (0: a stop by hand).
   */
  close(options?: { drainDelayMs?: number }): Promise<void>;
}

const isWhole = (value: number, min: number, max = Number.MAX_SAFE_INTEGER) =>
  Number.isInteger(value) && value >= min && value <= max;

/** Every option a person types, checked before anything loads: one UserError naming the flag. */
export function checkServeOptions(options: ServeOptions): void {
  const check = (value: number | undefined, flag: string, min: number, max: number, unit: string) => {
    if (value !== undefined && !isWhole(value, min, max))
      throw new UserError(`${flag} ${value}: ${unit} must be a whole number from ${min} to ${max}`);
  };
  check(options.port, '--port', 0, 65535, 'the port');
  check(options.bodyLimit, '--body-limit', 1, MAX_BODY_LIMIT, 'the body limit in bytes');
  check(options.maxPixels, '--max-pixels', 1, MAX_PIXEL_LIMIT, 'the pixel limit (width x height)');
  check(options.maxRequestPixels, '--max-request-pixels', 1, Number.MAX_SAFE_INTEGER, 'the pixel limit of one request');
  if (options.maxMemory !== undefined && !(Number.isFinite(options.maxMemory) && options.maxMemory >= MIN_MAX_MEMORY)) {
    throw new UserError(
      `--max-memory ${Math.round(options.maxMemory / 2 ** 20)}: the memory the server may use must be at least ${MIN_MAX_MEMORY / 2 ** 20} MiB`,
    );
  }
  check(options.maxConnections, '--max-connections', 1, 1_000_000, 'the connection limit');
  check(options.limits?.maxInFlight, '--max-in-flight', 1, 1_000_000, 'the limit of requests in flight');
  check(options.maxBatch, '--max-batch', 1, DEFAULT_INFER_BATCH, 'the largest merged model call (images)');
  const window = options.batchWindowMs;
  if (window !== undefined && window !== null && !(Number.isFinite(window) && window >= 0 && window <= 1000))
    throw new UserError(`--batch-window ${window}: the micro-batching window must be from 0 to 1000 ms`);
  const seconds = (ms: number | undefined, flag: string, min: number, what: string) => {
    if (ms !== undefined && !(Number.isFinite(ms) && ms >= min * 1000 && ms <= 3_600_000))
      throw new UserError(`${flag} ${ms / 1000}: ${what} must be from ${min} to 3600 seconds`);
  };
  seconds(options.limits?.requestTimeoutMs, '--request-timeout', 1, 'the request timeout');
  seconds(options.limits?.idleTimeoutMs, '--idle-timeout', 1, 'the idle timeout');
  seconds(options.drainTimeoutMs, '--drain-timeout', 0, 'the drain timeout');
  seconds(options.drainDelayMs, '--drain-delay', 0, 'the drain delay');
  check(options.rateLimit, '--rate-limit', 1, 1_000_000, 'the rate limit (requests a minute)');
  if (options.host !== undefined && !/^[A-Za-z0-9.:%_-]+$/.test(options.host))
    throw new UserError(`--host ${JSON.stringify(options.host)} is not a host name or address`);
  const origin = options.corsOrigin;
  if (origin !== undefined && origin !== '*') {
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {
      parsed = undefined;
    }
    if (!parsed || !/^https?:$/.test(parsed.protocol) || parsed.origin !== origin.replace(/\/$/, '')) {
      throw new UserError(
        `--cors ${JSON.stringify(origin)} is not an origin: give scheme, host and port only (https://example.com), or *`,
      );
    }
  }
}

/** Why listening failed, in one line naming the address and the flag to change. */
function listenError(err: Error & { code?: string }, host: string, port: number): UserError {
  const where = `cannot listen on ${host}:${port}`;
  switch (err.code) {
    case 'EADDRINUSE':
      return new UserError(`${where}: the port is in use (another server?); choose another with --port`);
    case 'EADDRNOTAVAIL':
      return new UserError(`${where}: ${host} is not an address of this machine (--host)`);
    case 'EACCES':
    case 'EPERM':
      return new UserError(`${where}: permission denied (ports below 1024 need privileges; --port)`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
      return new UserError(`${where}: no such host ${host} (--host)`);
    case 'ERR_SOCKET_BAD_PORT':
      return new UserError(`${where}: the port must be from 0 to 65535 (--port)`);
    default:
      return new UserError(`${where}: ${err.message}`);
  }
}

/** Listen on `host:port` with `server`; a listening error becomes one line naming the address and flag. */
async function listenOn(server: Server, host: string, port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const failed = (err: Error) => reject(err);
    server.once('error', failed);
    server.listen({ host, port }, () => {
      server.off('error', failed);
      resolve();
    });
  }).catch((err: Error & { code?: string }) => {
    if (err.code && (/^E[A-Z]+$/.test(err.code) || err.code === 'ERR_SOCKET_BAD_PORT'))
      throw listenError(err, host, port);
    throw err;
  });
}

/** Close `server` once its requests are answered, closing their connections under them after `timeoutMs`. */
async function closeWithin(server: Server, timeoutMs: number): Promise<void> {
  if (!server.listening) return;
  const deadline = setTimeout(() => server.closeAllConnections(), timeoutMs);
  try {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  } finally {
    clearTimeout(deadline);
  }
}

/**
 * Listen (127.0.0.1 unless told) at once, answering `answerWhileStarting` (/healthz 200, /readyz
 * 503 `starting`, other routes 503 with Retry-After); load the model, warm it, build the app and
 * hand it the server. Resolves once ready (/readyz 200).
 */
export async function startServer(options: ServeOptions = {}): Promise<RunningServer> {
  checkServeOptions(options);
  // The model shipped in the package unless told; a clear error naming a run folder that is not there.
  const runDir = resolveRunDir(options.runDir ?? DEFAULT_SHIPPED_MODEL);
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 3000;
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const drainTimeoutMs = options.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS;
  const drain: DrainState = { draining: false, closing: false };
  let ready = false;
  // The timeouts Fastify would set on a server of its own (hardening.ts), set here: this one is ours.
  const http = limitOptions(limits);
  const server = createServer(http.http ?? {}, answerWhileStarting);
  server.keepAliveTimeout = limits.idleTimeoutMs;
  server.requestTimeout = limits.requestTimeoutMs;
  server.setTimeout(http.connectionTimeout ?? 0);
  if (http.clientErrorHandler) server.on('clientError', http.clientErrorHandler);
  // Probes are answered even when every connection is taken: the cap answers them itself.
  capConnections(server, options.maxConnections ?? DEFAULT_MAX_CONNECTIONS, (path) =>
    probeAnswer(path, !ready ? 'starting' : drain.draining ? 'draining' : 'ready'),
  );
  await listenOn(server, host, port);
  const address = server.address();
  const boundPort = typeof address === 'object' && address ? address.port : port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${boundPort}`;
  // Decodes of every request share a part of the memory the server may use.
  const decodeBudget = serverDecodeBudget(options.maxMemory, options.processes);
  // libvips' cache of recent operations holds decoded pictures for a repeat that never comes
  // (each upload is new): memory kept for nothing.
  (await import('sharp')).default.cache(false);

  let predictor: Predictor | undefined;
  let app: FastifyInstance | undefined;
  try {
    await options.onListening?.(url);
    predictor = await Predictor.load(runDir, {
      backend: options.backend,
      runtime: options.runtime,
      minConfidence: options.minConfidence,
      threads: options.threads,
      batchWindowMs: options.batchWindowMs === null ? undefined : (options.batchWindowMs ?? DEFAULT_BATCH_WINDOW_MS),
      maxBatch: options.maxBatch ?? DEFAULT_SERVE_MAX_BATCH,
    });
    // The first call through a model compiles its kernels: pay for it before the first request.
    await predictor.predict([predictor.preprocessPixels(new Uint8Array(PIXELS))]);
    app = await buildApp({
      predictor,
      bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT,
      pageDir: options.pageDir,
      drain,
      modelName: options.modelName,
      maxPixels: options.maxPixels ?? DEFAULT_MAX_PIXELS,
      maxRequestPixels: options.maxRequestPixels ?? DEFAULT_MAX_REQUEST_PIXELS,
      decodeBudget,
      limits,
      corsOrigin: options.corsOrigin,
      rateLimit: options.rateLimit,
      server,
      corrections: options.corrections === undefined ? undefined : await CorrectionStore.open(options.corrections),
    });
    await app.ready();
    ready = true;
  } catch (err) {
    await closeWithin(server, 0);
    await app?.close().catch(() => undefined);
    await predictor?.close();
    throw err;
  }
  const running = app;
  const loaded = predictor;
  return {
    url,
    app: running,
    predictor: loaded,
    async close(closeOptions = {}) {
      // /readyz turns 503 and answers close their connections (app.ts), requests still answered
      // for the drain delay; then the port closes, new requests on open connections are refused,
      // and in-flight requests get the drain timeout before their connections are closed under them.
      drain.draining = true;
      const delayMs = closeOptions.drainDelayMs ?? options.drainDelayMs ?? DEFAULT_DRAIN_DELAY_MS;
      if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
      drain.closing = true;
      await closeWithin(server, drainTimeoutMs);
      await running.close();
      await loaded.close();
    },
  };
}

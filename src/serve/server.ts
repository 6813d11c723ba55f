import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { BackendName } from '../backend/names.js';
import { PIXELS } from '../data/types.js';
import { DEFAULT_MAX_PIXELS } from '../image/decode.js';
import { DEFAULT_RUNS_DIR, LATEST_LINK } from '../model/run.js';
import { Predictor } from '../predict/predictor.js';
import { UserError } from '../util/errors.js';
import { buildApp, DEFAULT_BODY_LIMIT } from './app.js';
import { capConnections, DEFAULT_LIMITS, type Limits } from './hardening.js';

/** Connections open at once (`--max-connections`); more are answered 503. */
const DEFAULT_MAX_CONNECTIONS = 256;
/** How long a stopping server lets in-flight requests finish before it closes their connections (ms). */
export const DEFAULT_DRAIN_TIMEOUT_MS = 10_000;
/** The largest pixel limit: libvips' own, 16383x16383. */
const MAX_PIXEL_LIMIT = 0x3fff * 0x3fff;
/** The largest body limit accepted: 1 GiB. */
const MAX_BODY_LIMIT = 1024 * 1024 * 1024;

export interface ServeOptions {
  /** A run folder (default runs/latest). */
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
  /** An origin whose pages may call the API; CORS is off without it. */
  corsOrigin?: string;
  /** Requests a minute from one client address; no limit without it. */
  rateLimit?: number;
}

export interface RunningServer {
  url: string;
  app: FastifyInstance;
  predictor: Predictor;
  /** Stop accepting, let in-flight requests finish (for the drain timeout at most), free the model. */
  close(): Promise<void>;
}

const isWhole = (value: number, min: number, max = Number.MAX_SAFE_INTEGER) => Number.isInteger(value) && value >= min && value <= max;

/** Every option a person types, checked before anything loads: one UserError naming the flag. */
export function checkServeOptions(options: ServeOptions): void {
  const check = (value: number | undefined, flag: string, min: number, max: number, unit: string) => {
    if (value !== undefined && !isWhole(value, min, max)) throw new UserError(`${flag} ${value}: ${unit} must be a whole number from ${min} to ${max}`);
  };
  check(options.port, '--port', 0, 65535, 'the port');
  check(options.bodyLimit, '--body-limit', 1, MAX_BODY_LIMIT, 'the body limit in bytes');
  check(options.maxPixels, '--max-pixels', 1, MAX_PIXEL_LIMIT, 'the pixel limit (width x height)');
  check(options.maxConnections, '--max-connections', 1, 1_000_000, 'the connection limit');
  check(options.limits?.maxInFlight, '--max-in-flight', 1, 1_000_000, 'the limit of requests in flight');
  const seconds = (ms: number | undefined, flag: string, min: number, what: string) => {
    if (ms !== undefined && !(Number.isFinite(ms) && ms >= min * 1000 && ms <= 3_600_000)) throw new UserError(`${flag} ${ms / 1000}: ${what} must be from ${min} to 3600 seconds`);
  };
  seconds(options.limits?.requestTimeoutMs, '--request-timeout', 1, 'the request timeout');
  seconds(options.limits?.idleTimeoutMs, '--idle-timeout', 1, 'the idle timeout');
  seconds(options.drainTimeoutMs, '--drain-timeout', 0, 'the drain timeout');
  check(options.rateLimit, '--rate-limit', 1, 1_000_000, 'the rate limit (requests a minute)');
  if (options.host !== undefined && !/^[A-Za-z0-9.:%_-]+$/.test(options.host)) throw new UserError(`--host ${JSON.stringify(options.host)} is not a host name or address`);
  const origin = options.corsOrigin;
  if (origin !== undefined && origin !== '*') {
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {
      parsed = undefined;
    }
    if (!parsed || !/^https?:$/.test(parsed.protocol) || parsed.origin !== origin.replace(/\/$/, '')) {
      throw new UserError(`--cors ${JSON.stringify(origin)} is not an origin: give scheme, host and port only (https://example.com), or *`);
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

/** Load the model, build the app, listen (127.0.0.1 unless told). */
export async function startServer(options: ServeOptions = {}): Promise<RunningServer> {
  checkServeOptions(options);
  const latest = join(DEFAULT_RUNS_DIR, LATEST_LINK);
  const runDir = options.runDir ?? latest;
  if (!existsSync(runDir)) {
    throw new UserError(
      runDir === latest
        ? `no model to serve: ${latest} does not exist (train one with \`npm start\`, or name a run folder: mnist-cnn serve RUN_DIR)`
        : `${runDir} does not exist`,
      runDir,
    );
  }
  const predictor = await Predictor.load(runDir, { backend: options.backend, minConfidence: options.minConfidence, threads: options.threads });
  const drain = { draining: false };
  let app: FastifyInstance | undefined;
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 3000;
  try {
    // The first call through a model compiles its kernels: pay for it before the first request.
    await predictor.predict([predictor.preprocessPixels(new Uint8Array(PIXELS))]);
    app = await buildApp({
      predictor,
      bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT,
      pageDir: options.pageDir,
      drain,
      modelName: options.modelName,
      maxPixels: options.maxPixels ?? DEFAULT_MAX_PIXELS,
      limits: { ...DEFAULT_LIMITS, ...options.limits },
      corsOrigin: options.corsOrigin,
      rateLimit: options.rateLimit,
    });
    capConnections(app.server, options.maxConnections ?? DEFAULT_MAX_CONNECTIONS);
    await app.listen({ host, port });
  } catch (err) {
    await app?.close().catch(() => undefined);
    await predictor.close();
    const code = (err as { code?: string }).code;
    if (code && !(err instanceof UserError) && (/^E[A-Z]+$/.test(code) || code === 'ERR_SOCKET_BAD_PORT')) throw listenError(err as Error, host, port);
    throw err;
  }
  const address = app.server.address();
  const boundPort = typeof address === 'object' && address ? address.port : port;
  const drainTimeoutMs = options.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS;
  const running = app;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${boundPort}`,
    app: running,
    predictor,
    async close() {
      drain.draining = true;
      // In-flight requests get the drain timeout; then their connections are closed under them.
      const deadline = setTimeout(() => running.server.closeAllConnections(), drainTimeoutMs);
      try {
        await running.close();
      } finally {
        clearTimeout(deadline);
      }
      await predictor.close();
    },
  };
}

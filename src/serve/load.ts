/**
 * A bounded load check of POST /v1/predict: a fixed number of requests of one PNG, on loopback.
 * For the benchmark only; tests never assert timings.
 */
import autocannon from 'autocannon';
import { startServer, type ServeOptions } from './app.js';

export interface HttpLoadOptions extends Pick<ServeOptions, 'backend' | 'minConfidence'> {
  runDir: string;
  /** Requests to send in all (default 2,000). */
  requests?: number;
  /** Requests open at once (default 8). */
  connections?: number;
  /** The PNG to post (default: a 280x280 drawn-looking 7, like the page's canvas). */
  png?: Buffer;
}

export interface HttpLoadResult {
  requests: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Failed connections, timeouts and non-2xx answers. */
  errors: number;
}

/** A white 7 on black at 280x280: what a user draws on the page. */
async function drawnSeven(): Promise<Buffer> {
  const sharp = (await import('sharp')).default;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="280" height="280"><rect width="280" height="280" fill="black"/><path d="M70 56 H210 L126 238" stroke="white" stroke-width="20" fill="none" stroke-linecap="round" stroke-linejoin="round"/></svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}

/** Start a server on a free 127.0.0.1 port, send the requests, stop it. */
export async function runHttpLoad(options: HttpLoadOptions): Promise<HttpLoadResult> {
  const body = options.png ?? (await drawnSeven());
  const server = await startServer({ runDir: options.runDir, port: 0, backend: options.backend, minConfidence: options.minConfidence });
  try {
    const amount = options.requests ?? 2000;
    const result = await autocannon({
      url: `${server.url}/v1/predict`,
      method: 'POST',
      headers: { 'content-type': 'image/png' },
      body,
      connections: options.connections ?? 8,
      amount,
      timeout: 10,
    });
    return {
      requests: result.requests.total,
      requestsPerSecond: Math.round(result.requests.total / result.duration),
      p50Ms: result.latency.p50,
      p99Ms: result.latency.p99,
      errors: result.errors + result.timeouts + result.non2xx,
    };
  } finally {
    await server.close();
  }
}

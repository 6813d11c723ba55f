/**
 * A bounded load check of POST /v1/predict, for the benchmark only (tests never assert
 * timings): a real `mnist-cnn serve` process on 127.0.0.1, a fixed number of requests of one
 * PNG from autocannon in this process.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

export interface HttpLoadOptions {
  runDir: string;
  /** The PNG to post. */
  png: Buffer;
  /** Requests to send in all (default 2,000). */
  requests?: number;
  /** Requests open at once (default 8). */
  connections?: number;
  /** Server processes (`serve --workers`, default 1). */
  workers?: number;
}

export interface HttpLoadResult {
  requests: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Failed connections, timeouts and non-2xx answers. */
  errors: number;
}

const CLI = fileURLToPath(new URL('../bin/mnist-cnn.js', import.meta.url));

/** Start `mnist-cnn serve` on a free port, wait for its URL, and hand back a way to stop it. */
async function startServeProcess(runDir: string, workers: number): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [CLI, 'serve', runDir, '--port', '0', '--workers', String(workers)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise<number | null>((done) => child.on('exit', done));
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk;
      const match = /at (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match) resolve(match[1]);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exited.then((code) => reject(new Error(`mnist-cnn serve exited with code ${code}: ${output.trim()}`)));
  });
  return {
    url,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

export async function runHttpLoad(options: HttpLoadOptions): Promise<HttpLoadResult> {
  const server = await startServeProcess(options.runDir, options.workers ?? 1);
  try {
    const request = { url: `${server.url}/v1/predict`, method: 'POST' as const, headers: { 'content-type': 'image/png' }, body: options.png };
    await autocannon({ ...request, connections: 1, amount: 50 }); // warm-up
    const result = await autocannon({ ...request, connections: options.connections ?? 8, amount: options.requests ?? 2000, timeout: 10 });
    return {
      requests: result.requests.total,
      requestsPerSecond: Math.round(result.requests.total / result.duration),
      p50Ms: result.latency.p50,
      p99Ms: result.latency.p99,
      errors: result.errors + result.timeouts + result.non2xx,
    };
  } finally {
    await server.stop();
  }
}

/**
 * A bounded load check of POST /v1/predict, for the benchmark only (tests never assert
 * timings): a real `mnist-cnn serve` process on 127.0.0.1 (its flags as given), then one or more
 * loads of a fixed number of requests of one PNG each, from autocannon in this process.
 *
 * Requests/s are counted from the first request to the last answer on our own clock: autocannon
 * notices the end of an `amount` only at its next one-second sample, so its own `duration` (and
 * requests / duration) under-reports short loads by up to a second (a 2,000-request load that took
 * 0.4 s read as 1,000/s, not 5,000/s).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

export interface HttpLoad {
  /** The PNG to post. */
  png: Buffer;
  /** Requests to send in all (default 2,000). */
  requests?: number;
  /** Requests open at once (default 8). */
  connections?: number;
}

export interface HttpLoadOptions extends HttpLoad {
  runDir: string;
  /** Server processes (`serve --workers`, default 1). */
  workers?: number;
  /** More `serve` flags (`--runtime onnx`, `--batch-window off`, ...). */
  serveArgs?: string[];
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

/** Start `mnist-cnn serve` on a free port, wait for its URL (printed once ready), and hand back a way to stop it. */
async function startServeProcess(runDir: string, args: string[]): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [CLI, 'serve', runDir, '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
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

/** One load against a listening server: `amount` POSTs of the PNG, `connections` at a time. */
async function load(url: string, { png, connections = 8, requests = 2000 }: HttpLoad): Promise<HttpLoadResult> {
  const request = { url: `${url}/v1/predict`, method: 'POST' as const, headers: { 'content-type': 'image/png' }, body: png };
  await autocannon({ ...request, connections: Math.min(connections, 8), amount: 50 * Math.min(connections, 8) }); // warm-up
  const start = performance.now();
  let last = start;
  const run = autocannon({ ...request, connections, amount: requests, timeout: 10 });
  run.on('response', () => {
    last = performance.now();
  });
  const result = await run;
  return {
    requests: result.requests.total,
    requestsPerSecond: Math.round(result.requests.total / ((last - start) / 1000)),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: result.errors + result.timeouts + result.non2xx,
  };
}

/** Start one `serve` process and run each load against it in turn. */
export async function runHttpLoads(options: { runDir: string; workers?: number; serveArgs?: string[] }, loads: HttpLoad[]): Promise<HttpLoadResult[]> {
  const server = await startServeProcess(options.runDir, ['--workers', String(options.workers ?? 1), ...(options.serveArgs ?? [])]);
  try {
    const results: HttpLoadResult[] = [];
    for (const one of loads) results.push(await load(server.url, one));
    return results;
  } finally {
    await server.stop();
  }
}

export async function runHttpLoad(options: HttpLoadOptions): Promise<HttpLoadResult> {
  const [result] = await runHttpLoads(options, [options]);
  return result;
}

/**
 * A bounded load check of POST /v1/predict, for the benchmark only (tests never assert
 * timings): a real `mnist-cnn serve` process on 127.0.0.1 (its flags as given), then one or more
 * loads of a fixed number of requests of one PNG each, from autocannon in this process.
 *
 * Requests/s are counted from the first request to the last answer on our own clock: autocannon
 * notices the end of an `amount` only at its next one-second sample, so its own `duration` (and
 * requests / duration) under-reports short loads by up to a second (a 2,000-request load that took
 * 0.4 s read as 1,000/s, not 5,000/s).
 *
 * Each load also reports the server's CPU time per request (from /proc, Linux only): on a
 * shared machine where the load generator and other work compete for the cores,
 * requests/s move with the neighbours, while the server's CPU µs per request is what a change
 * to the serving path changes.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
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

/** Where and how the server under load runs (the loads themselves are HttpLoad). */
interface HttpLoadOptions extends HttpLoad {
  runDir: string;
  /** Server processes (`serve --workers`, default 1). */
  workers?: number;
  /** More `serve` flags (`--runtime onnx`, `--batch-window off`, ...). */
  serveArgs?: string[];
  /** Node flags for the server process (`--cpu-prof`, ...). */
  nodeArgs?: string[];
}

export interface HttpLoadResult {
  requests: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Failed connections, timeouts and non-2xx answers. */
  errors: number;
  /** CPU time (user + system) the server process spent per request, in µs; null where /proc is not there. */
  serverCpuUsPerRequest: number | null;
  /**
   * CPU time the load generator (autocannon, in this process) spent per request, in µs: it
   * shares the machine's cores with the server, so 1e6 × cores / (server + client µs) bounds
   * the requests/s one machine can show.
   */
  clientCpuUsPerRequest: number;
}

const CLI = fileURLToPath(new URL('../bin/mnist-cnn.js', import.meta.url));

/** Start `mnist-cnn serve` on a free port, wait for its URL (printed once ready), and hand back a way to stop it. */
async function startServeProcess(
  runDir: string,
  args: string[],
  nodeArgs: string[] = [],
): Promise<{ url: string; cpuSeconds: () => number | null; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [...nodeArgs, CLI, 'serve', runDir, '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
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
    cpuSeconds: () => (child.pid === undefined ? null : processCpuSeconds(child.pid)),
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/**
 * User + system CPU seconds of a process so far (/proc/<pid>/stat fields 14 and 15, in clock
 * ticks of 1/100 s on Linux); null where there is no /proc. With `serve --workers 1` the
 * server is this one process (no cluster primary).
 */
function processCpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: count fields after it.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

/** One load against a listening server: `amount` POSTs of the PNG, `connections` at a time. */
async function load(
  url: string,
  { png, connections = 8, requests = 2000 }: HttpLoad,
  cpuSeconds: () => number | null,
): Promise<HttpLoadResult> {
  const request = {
    url: `${url}/v1/predict`,
    method: 'POST' as const,
    headers: { 'content-type': 'image/png' },
    body: png,
  };
  await autocannon({ ...request, connections: Math.min(connections, 8), amount: 50 * Math.min(connections, 8) }); // warm-up
  const cpuBefore = cpuSeconds();
  const clientBefore = process.cpuUsage();
  const start = performance.now();
  let last = start;
  const run = autocannon({ ...request, connections, amount: requests, timeout: 10 });
  run.on('response', () => {
    last = performance.now();
  });
  const result = await run;
  const cpuAfter = cpuSeconds();
  const client = process.cpuUsage(clientBefore);
  return {
    requests: result.requests.total,
    requestsPerSecond: Math.round(result.requests.total / ((last - start) / 1000)),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: result.errors + result.timeouts + result.non2xx,
    serverCpuUsPerRequest:
      cpuBefore === null || cpuAfter === null || result.requests.total === 0
        ? null
        : Math.round(((cpuAfter - cpuBefore) * 1e6) / result.requests.total),
    clientCpuUsPerRequest:
      result.requests.total === 0 ? 0 : Math.round((client.user + client.system) / result.requests.total),
  };
}

/** Start one `serve` process and run each load against it in turn. */
export async function runHttpLoads(
  options: Omit<HttpLoadOptions, keyof HttpLoad>,
  loads: HttpLoad[],
): Promise<HttpLoadResult[]> {
  const workers = options.workers ?? 1;
  const server = await startServeProcess(
    options.runDir,
    ['--workers', String(workers), ...(options.serveArgs ?? [])],
    options.nodeArgs,
  );
  // More than one worker: the CPU is in the cluster's worker processes, not this one.
  const cpuSeconds = workers === 1 ? server.cpuSeconds : () => null;
  try {
    const results: HttpLoadResult[] = [];
    for (const one of loads) results.push(await load(server.url, one, cpuSeconds));
    return results;
  } finally {
    await server.stop();
  }
}

import cluster, { type Worker } from 'node:cluster';
import { UserError } from '../util/errors.js';
import {
  checkServeOptions,
  DEFAULT_DRAIN_DELAY_MS,
  DEFAULT_DRAIN_TIMEOUT_MS,
  startServer,
  type ServeOptions,
} from './server.js';

export interface ServeProcessOptions extends ServeOptions {
  /** Processes that serve (node:cluster) so that every core answers requests; 1: this process. */
  workers?: number;
  /** Print the URL once listening. */
  log?: (message: string) => void;
}

/** What a worker tells the primary. */
interface WorkerMessage {
  /** The URL, once the worker's model is loaded and warmed. */
  listening?: string;
  /** What runs its model (`tfjs` after a fallback from `onnx`). */
  runtime?: string;
  /** The one-line reason a worker could not start (a UserError's message). */
  failed?: string;
}

/**
 * Serve until SIGTERM or SIGINT, then stop accepting, let in-flight requests finish (for the
 * drain timeout at most), and exit 0. With workers > 1 this process forks the workers (they
 * share the port), forwards the signal, and replaces a worker that dies while serving.
 */
export async function serveUntilStopped(options: ServeProcessOptions): Promise<void> {
  const log = options.log ?? (() => {});
  const workers = Math.max(1, options.workers ?? 1);
  if (workers > 1 && cluster.isPrimary) {
    checkServeOptions(options);
    return runPrimary(options, workers, log);
  }
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    // The workers share the memory limit: each decodes within its part of it.
    server = await startServer({ ...options, processes: workers });
  } catch (err) {
    if (!cluster.isWorker || !(err instanceof UserError)) throw err;
    // The primary says it, once: a worker leaves quietly.
    process.send?.({ failed: err.message } satisfies WorkerMessage, () => process.exit(2));
    return new Promise<never>(() => {});
  }
  if (cluster.isWorker)
    process.send?.({ listening: server.url, runtime: server.predictor.runtime } satisfies WorkerMessage);
  else
    log(`serving ${server.predictor.dir} on ${server.predictor.runtime} at ${server.url} (docs: ${server.url}/docs)`);
  await new Promise<void>((resolve) => {
    // SIGTERM (an orchestrator, a load balancer's host) drains with the drain delay; Ctrl-C stops at once.
    const stop = (signal: NodeJS.Signals) => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      server.close(signal === 'SIGINT' ? { drainDelayMs: 0 } : {}).then(resolve, resolve);
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    // A worker whose primary is gone has nobody to serve for.
    if (cluster.isWorker) process.on('disconnect', () => stop('SIGTERM'));
  });
  // A worker's IPC channel to the primary would keep it alive after the server closed.
  if (cluster.isWorker && process.connected) process.disconnect();
}

async function runPrimary(
  options: ServeProcessOptions,
  workers: number,
  log: (message: string) => void,
): Promise<void> {
  let listening = 0;
  let ready = false;
  let stopping = false;
  let failure: string | undefined;
  /** Replacements in a row that died before listening: a broken start is not retried forever. */
  let failedReplacements = 0;
  const started = new WeakSet<Worker>();
  const fork = (): Worker => {
    const worker = cluster.fork();
    worker.on('message', (message: WorkerMessage) => {
      if (message.failed) failure ??= message.failed;
      if (!message.listening) return;
      started.add(worker);
      failedReplacements = 0;
      if (++listening === workers && !ready) {
        ready = true;
        log(
          `serving on ${message.runtime ?? 'tfjs'} at ${message.listening} with ${workers} worker processes (docs: ${message.listening}/docs)`,
        );
      }
    });
    return worker;
  };
  for (let i = 0; i < workers; i++) fork();
  const drainMs =
    (options.drainDelayMs ?? DEFAULT_DRAIN_DELAY_MS) + (options.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS);
  await new Promise<void>((resolve, reject) => {
    const stopAll = (signal: NodeJS.Signals) => {
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill(signal);
    };
    /** Set when workers could not start: the reason the primary fails with once all are gone. */
    let startFailure: string | undefined;
    const allGone = () => Object.keys(cluster.workers ?? {}).length === 0;
    const finish = () => (startFailure === undefined ? resolve() : reject(new UserError(startFailure)));
    cluster.on('exit', (worker, code, signal) => {
      if (stopping) {
        if (allGone()) finish();
        return;
      }
      // A worker that dies at start-up (bad model, port taken) would die again: stop, do not loop.
      if (!ready || (!started.has(worker) && ++failedReplacements >= 3)) {
        stopping = true;
        startFailure =
          failure ?? `a server worker exited with ${signal ? `signal ${signal}` : `code ${code}`} while starting`;
        stopAll('SIGTERM');
        if (allGone()) finish();
        return;
      }
      log(`worker ${worker.process.pid} exited with ${signal ? `signal ${signal}` : `code ${code}`}; starting another`);
      if (started.has(worker)) listening--;
      fork();
    });
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      stopAll(signal);
      // Workers wait out the drain delay and drain for the drain timeout at most; one that is still up a little after is killed.
      setTimeout(() => stopAll('SIGKILL'), drainMs + 5_000).unref();
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}

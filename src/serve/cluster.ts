import cluster from 'node:cluster';
import { startServer, type ServeOptions } from './server.js';

export interface ServeProcessOptions extends ServeOptions {
  /** Processes that serve (node:cluster) so that every core answers requests; 1: this process. */
  workers?: number;
  /** Print the URL once listening. */
  log?: (message: string) => void;
}

/**
 * Serve until SIGTERM or SIGINT, then stop accepting, let in-flight requests finish, and exit 0.
 * With workers > 1 this process forks the workers (they share the port) and forwards the signal.
 */
export async function serveUntilStopped(options: ServeProcessOptions): Promise<void> {
  const log = options.log ?? (() => {});
  const workers = Math.max(1, options.workers ?? 1);
  if (workers > 1 && cluster.isPrimary) return runPrimary(options, workers, log);

  const server = await startServer(options);
  if (cluster.isWorker) process.send?.({ listening: server.url });
  else log(`serving ${server.predictor.dir} at ${server.url} (docs: ${server.url}/docs)`);
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      server.close().then(resolve, resolve);
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    // A worker whose primary is gone has nobody to serve for.
    if (cluster.isWorker) process.on('disconnect', stop);
  });
  // A worker's IPC channel to the primary would keep it alive after the server closed.
  if (cluster.isWorker && process.connected) process.disconnect();
}

async function runPrimary(options: ServeProcessOptions, workers: number, log: (message: string) => void): Promise<void> {
  let listening = 0;
  let stopping = false;
  const fork = () => {
    const worker = cluster.fork();
    worker.on('message', (message: { listening?: string }) => {
      if (message.listening && ++listening === workers) log(`serving at ${message.listening} with ${workers} worker processes (docs: ${message.listening}/docs)`);
    });
    return worker;
  };
  for (let i = 0; i < workers; i++) fork();
  await new Promise<void>((resolve, reject) => {
    cluster.on('exit', (worker, code) => {
      if (stopping) {
        if (Object.keys(cluster.workers ?? {}).length === 0) resolve();
        return;
      }
      // A worker that dies at start-up (bad model, port taken) would die again: stop, do not loop.
      if (listening < workers) reject(new Error(`a server worker exited with code ${code} while starting`));
      else {
        log(`worker ${worker.process.pid} exited with code ${code}; starting another`);
        fork();
      }
    });
    const stop = () => {
      if (stopping) return;
      stopping = true;
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}

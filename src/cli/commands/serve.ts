import type { Command } from 'commander';
import type { BackendName } from '../../backend/names.js';
import { configOption } from '../options.js';
import { countingNumber, probability, wholeNumber } from '../parse.js';

interface ServeFlags {
  port: number;
  host: string;
  workers: number;
  bodyLimit?: number;
  minConfidence?: number;
  backend: BackendName;
  threads: number;
  quiet?: boolean;
  modelName?: string;
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('serve a model over HTTP (API, OpenAPI docs, Prometheus metrics) with a draw-a-digit page at /')
    .argument('[model]', 'run folder', 'runs/latest')
    .option('--port <n>', 'port (0: any free port)', wholeNumber, 3000)
    .option('--host <address>', 'address to bind (127.0.0.1 keeps it on this machine)', '127.0.0.1')
    .option('--workers <n>', 'processes that serve (both cores: 2)', countingNumber, 1)
    .option('--body-limit <bytes>', 'largest request body (default 5 MiB)', wholeNumber)
    .option('--min-confidence <x>', 'below this confidence answer "no digit" (default 0.5)', probability)
    .addOption(configOption('backend', 'wasm'))
    .addOption(configOption('threads', 1))
    .option('--model-name <name>', "the model's name in the Open Inference Protocol routes, /v2/models/<name> (default: the run folder's name)")
    .option('--quiet', 'print nothing but errors')
    .action(async (model: string, flags: ServeFlags) => {
      const { serveUntilStopped } = await import('../../serve/cluster.js');
      await serveUntilStopped({
        runDir: model,
        port: flags.port,
        host: flags.host,
        workers: flags.workers,
        bodyLimit: flags.bodyLimit,
        minConfidence: flags.minConfidence,
        backend: flags.backend,
        modelName: flags.modelName,
        threads: flags.threads,
        log: flags.quiet ? undefined : (message) => console.log(message),
      });
      // Served and drained: a cluster worker's IPC channel would otherwise keep the process alive.
      process.exit(0);
    });
}

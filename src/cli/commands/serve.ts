import { InvalidArgumentError, type Command } from 'commander';
import type { BackendName, RuntimeName } from '../../backend/names.js';
import { DEFAULT_MIN_CONFIDENCE } from '../../predict/interpret.js';
import { configOption, runtimeOption } from '../options.js';
import { modelOf, modelOption } from '../model-arg.js';
import { countingNumber, number, probability, wholeNumber } from '../parse.js';

interface ServeFlags {
  port: number;
  host: string;
  workers: number;
  bodyLimit?: number;
  minConfidence?: number;
  backend: BackendName;
  threads: number;
  runtime: RuntimeName;
  batchWindow?: number | 'off';
  maxBatch?: number;
  quiet?: boolean;
  modelName?: string;
  maxPixels?: number;
  requestTimeout?: number;
  idleTimeout?: number;
  maxConnections?: number;
  maxInFlight?: number;
  drainTimeout?: number;
  drainDelay?: number;
  maxMemory?: number;
  maxRequestPixels?: number;
  cors?: string;
  rateLimit?: number;
  model?: string;
  corrections?: string;
}

/** `--batch-window`: milliseconds from 0 to 1000, or `off`. */
function batchWindow(value: string): number | 'off' {
  if (value.trim() === 'off') return 'off';
  const n = Number(value);
  if (value.trim() === '' || !(n >= 0 && n <= 1000))
    throw new InvalidArgumentError(`'${value}' is not a number of milliseconds from 0 to 1000, nor off.`);
  return n;
}

const ms = (seconds: number | undefined) => (seconds === undefined ? undefined : Math.round(seconds * 1000));

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('serve a model over HTTP (API, OpenAPI docs, Prometheus metrics) with a draw-a-digit page at /')
    .argument('[model]', 'run folder (default: the model shipped in the package)')
    .addOption(modelOption())
    .option('--port <n>', 'port (0: any free port)', wholeNumber, 3000)
    .option('--host <address>', 'address to bind (127.0.0.1 keeps it on this machine)', '127.0.0.1')
    .option('--workers <n>', 'processes that serve (both cores: 2)', countingNumber, 1)
    .option('--body-limit <bytes>', 'largest request body (default 5 MiB)', wholeNumber)
    .option(
      '--min-confidence <x>',
      `below this confidence answer "no digit" (default ${DEFAULT_MIN_CONFIDENCE})`,
      probability,
    )
    .addOption(configOption('backend', 'wasm'))
    .addOption(configOption('threads', 1))
    .addOption(runtimeOption())
    .option(
      '--batch-window <ms>',
      'micro-batching: predictions that arrive within this many ms (0: at once, or while a model call runs) are one model call; off: one call each (default 0)',
      batchWindow,
    )
    .option('--max-batch <n>', 'most images in one merged model call (default 64)', countingNumber)
    .option(
      '--model-name <name>',
      "the model's name in the Open Inference Protocol routes, /v2/models/<name> (default: the run folder's name)",
    )
    .option(
      '--max-pixels <n>',
      'largest image accepted, width x height; larger is refused from its header, undecoded (default 16777216: 4096x4096)',
      wholeNumber,
    )
    .option('--request-timeout <s>', 'seconds a client has to send a whole request (408 after; default 30)', number)
    .option('--idle-timeout <s>', 'seconds a kept-alive connection may stay idle (default 5)', number)
    .option('--max-connections <n>', 'connections open at once; more are answered 503 (default 256)', wholeNumber)
    .option(
      '--max-in-flight <n>',
      'requests being received or answered at once; more are answered 503 with Retry-After (default 64)',
      wholeNumber,
    )
    .option(
      '--max-request-pixels <n>',
      'most pixels of the pictures of one request, added up; more is refused from their headers, undecoded (default 67108864: four of 4096x4096)',
      wholeNumber,
    )
    .option(
      '--max-memory <MiB>',
      "memory the server may use; decodes across requests wait for a share of it (default: the container's limit, else 1024)",
      countingNumber,
    )
    .option(
      '--drain-delay <s>',
      'on SIGTERM, seconds /readyz answers 503 "draining" while requests are still answered, before the port closes (default 0)',
      number,
    )
    .option(
      '--drain-timeout <s>',
      'on SIGTERM, seconds in-flight requests get to finish before their connections are closed (default 10)',
      number,
    )
    .option('--cors <origin>', 'let pages from this origin call the API (https://example.com, or *); off by default')
    .option(
      '--rate-limit <n>',
      'requests a minute from one client address; more are answered 429 (default: no limit)',
      wholeNumber,
    )
    .option(
      '--corrections <dir>',
      'file the page\'s corrections ("Wrong? It is a 7") into this folder, for `mnist-cnn finetune` (off by default: the page keeps them in the browser)',
    )
    .option('--quiet', 'print nothing but errors')
    .action(async (arg: string | undefined, flags: ServeFlags) => {
      const { serveUntilStopped } = await import('../../serve/cluster.js');
      await serveUntilStopped({
        runDir: modelOf(arg, flags.model),
        port: flags.port,
        host: flags.host,
        workers: flags.workers,
        bodyLimit: flags.bodyLimit,
        minConfidence: flags.minConfidence,
        backend: flags.backend,
        modelName: flags.modelName,
        threads: flags.threads,
        runtime: flags.runtime,
        batchWindowMs: flags.batchWindow === 'off' ? null : flags.batchWindow,
        maxBatch: flags.maxBatch,
        maxPixels: flags.maxPixels,
        limits: {
          ...(flags.requestTimeout === undefined ? {} : { requestTimeoutMs: ms(flags.requestTimeout) }),
          ...(flags.idleTimeout === undefined ? {} : { idleTimeoutMs: ms(flags.idleTimeout) }),
          ...(flags.maxInFlight === undefined ? {} : { maxInFlight: flags.maxInFlight }),
        },
        maxConnections: flags.maxConnections,
        drainTimeoutMs: ms(flags.drainTimeout),
        drainDelayMs: ms(flags.drainDelay),
        maxMemory: flags.maxMemory === undefined ? undefined : flags.maxMemory * 1024 * 1024,
        maxRequestPixels: flags.maxRequestPixels,
        corsOrigin: flags.cors,
        rateLimit: flags.rateLimit,
        corrections: flags.corrections,
        log: flags.quiet ? undefined : (message) => console.log(message),
      });
      // Served and drained: a cluster worker's IPC channel would otherwise keep the process alive.
      process.exit(0);
    });
}

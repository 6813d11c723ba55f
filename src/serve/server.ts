import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { BackendName } from '../backend/names.js';
import { PIXELS } from '../data/types.js';
import { DEFAULT_RUNS_DIR, LATEST_LINK } from '../model/run.js';
import { Predictor } from '../predict/predictor.js';
import { UserError } from '../util/errors.js';
import { buildApp } from './app.js';

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
}

export interface RunningServer {
  url: string;
  app: FastifyInstance;
  predictor: Predictor;
  /** Stop accepting, let in-flight requests finish, free the model. */
  close(): Promise<void>;
}

/** Load the model, build the app, listen (127.0.0.1 unless told). */
export async function startServer(options: ServeOptions = {}): Promise<RunningServer> {
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
  // The first call through a model compiles its kernels: pay for it before the first request.
  await predictor.predict([predictor.preprocessPixels(new Uint8Array(PIXELS))]);
  const drain = { draining: false };
  const app = await buildApp({ predictor, bodyLimit: options.bodyLimit, pageDir: options.pageDir, drain, modelName: options.modelName });
  const host = options.host ?? '127.0.0.1';
  await app.listen({ host, port: options.port ?? 3000 });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    app,
    predictor,
    async close() {
      drain.draining = true;
      await app.close();
      await predictor.close();
    },
  };
}

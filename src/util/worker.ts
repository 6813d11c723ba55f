/**
 * Starting a worker thread on one of the project's own modules, the same way whether the project
 * runs built (dist/, .js) or from source under tsx (.ts: the tests, `npm run bench`). Node 20 does
 * not apply the main thread's `--import tsx` loader to workers, so from source the worker is a
 * two-line eval that loads tsx's API and imports the .ts file through it.
 */
import { Worker } from 'node:worker_threads';

/** Whether this copy of the project runs from its .ts sources (under tsx) rather than from dist/. */
const FROM_SOURCE = import.meta.url.endsWith('.ts');

/**
 * A worker thread running `url`, a module named as built: `new URL('./x-worker.js', import.meta.url)`
 * beside the caller. From source the same name is read as the .ts file beside it.
 */
export function startModuleWorker(url: URL, workerData: unknown): Worker {
  if (!url.pathname.endsWith('.js')) throw new Error(`startModuleWorker: ${url.href} is not a .js module name`);
  if (!FROM_SOURCE) return new Worker(url, { workerData });
  const source = new URL(url.href.replace(/\.js$/, '.ts'));
  const code = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((tsx) => tsx.tsImport(${JSON.stringify(source.href)}, ${JSON.stringify(import.meta.url)}))`;
  return new Worker(code, { eval: true, workerData });
}

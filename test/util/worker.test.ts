import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Worker } from 'node:worker_threads';
import { startModuleWorker } from '../../src/util/worker.js';

const work = await mkdtemp(join(tmpdir(), 'mnist-cnn-worker-'));
after(() => rm(work, { recursive: true, force: true }));
await writeFile(join(work, 'package.json'), '{"type":"module"}\n');
// The same module as source (.ts, with a type annotation only tsx can run) and as built (.js).
const body = (typed: boolean) =>
  `import { parentPort, workerData } from 'node:worker_threads';\n` +
  `const n${typed ? ': number' : ''} = workerData;\n` +
  `if (n < 0) throw new Error('negative input');\n` +
  `parentPort${typed ? '!' : ''}.postMessage(['${typed ? 'ts' : 'js'}', n * 2]);\n`;
await writeFile(join(work, 'double.ts'), body(true));
await writeFile(join(work, 'double.js'), body(false));
const doubleUrl = pathToFileURL(join(work, 'double.js'));

/** The worker's first message, or its error; the worker is ended either way. */
async function answer(worker: Worker): Promise<unknown> {
  try {
    return await new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
  } finally {
    await worker.terminate();
  }
}

test('from source (under tsx), startModuleWorker runs the .ts module beside the .js name', async () => {
  assert.deepEqual(await answer(startModuleWorker(doubleUrl, 21)), ['ts', 42]);
  await assert.rejects(answer(startModuleWorker(doubleUrl, -1)), /negative input/);
});

test('built, startModuleWorker runs the .js module', async (t) => {
  const built = new URL('../../dist/util/worker.js', import.meta.url);
  if (!existsSync(built)) return t.skip('dist/ is not built: run `npm run build` (npm test does)');
  const { startModuleWorker: startBuilt } = (await import(built.href)) as typeof import('../../src/util/worker.js');
  assert.deepEqual(await answer(startBuilt(doubleUrl, 4)), ['js', 8]);
});

test('startModuleWorker wants a module named as built (.js)', () => {
  assert.throws(() => startModuleWorker(pathToFileURL(join(work, 'double.ts')), 1), /is not a \.js module name/);
});

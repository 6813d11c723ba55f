import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { initBackend } from '../../src/backend/index.js';

test('starting the wasm backend leaves no process handler behind that rethrows errors', async () => {
  const count = () => process.listeners('uncaughtException').length + process.listeners('unhandledRejection').length;
  const before = count();
  await initBackend('wasm');
  assert.equal(count(), before);
});

test('an error after the wasm backend started ends the process as Node would (exit 1), not with exit 7 from a rethrowing handler', () => {
  const script =
    "const { initBackend } = await import('./src/backend/index.ts'); await initBackend('wasm'); setTimeout(() => { throw new Error('late failure'); });";
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    encoding: 'utf8',
  });
  assert.equal(result.status, 1, result.stderr);
  assert.match(result.stderr, /Error: late failure/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { loadMnist, PIXELS } from '../../../src/data/index.js';
import { quickRunDir } from '../../helpers/quick-run.js';
import { startServeProcess } from '../../helpers/serve-process.js';

const runDir = await quickRunDir();
const data = await loadMnist();
const pixels = Array.from(data.test.images.subarray(0, PIXELS));

test('serve --runtime, --batch-window and --max-batch, in one process or with --workers: the runtime is named when ready, and each server answers alike', async () => {
  const answers: unknown[] = [];
  const cases: [string[], string][] = [
    [['--runtime', 'tfjs', '--batch-window', 'off'], 'tfjs'],
    [['--runtime', 'onnx', '--batch-window', '2', '--max-batch', '8'], 'onnx'],
    [[], 'onnx'],
    [['--workers', '2', '--runtime', 'tfjs', '--batch-window', '1'], 'tfjs'],
  ];
  for (const [args, runtime] of cases) {
    const server = await startServeProcess(runDir, { args });
    try {
      assert.match(
        server.output(),
        new RegExp(`serving (.* )?on ${runtime} at http://127\\.0\\.0\\.1:\\d+ (with 2 worker processes )?\\(docs: `),
        args.join(' '),
      );
      const response = await fetch(`${server.url}/v1/predict`, {
        method: 'POST',
        body: JSON.stringify({ pixels }),
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(response.status, 200);
      const answer = await response.json();
      assert.equal(answer.digit, 7);
      answers.push(answer.digit);
      assert.deepEqual(await (await fetch(`${server.url}/readyz`)).json(), { status: 'ready' });
    } finally {
      assert.deepEqual(await server.stop(), { code: 0, signal: null });
    }
  }
  assert.deepEqual(answers, [7, 7, 7, 7]);
});

test('bad --batch-window, --max-batch and --runtime values are refused before anything loads', () => {
  const serve = (...args: string[]) =>
    spawnSync(process.execPath, ['bin/mnist-cnn.js', 'serve', runDir, '--port', '0', ...args], {
      encoding: 'utf8',
      timeout: 60_000,
    });
  const refusals: [string[], RegExp][] = [
    [['--batch-window', 'soon'], /'soon' is not a number of milliseconds from 0 to 1000, nor off\./],
    [['--batch-window', '5000'], /'5000' is not a number of milliseconds from 0 to 1000, nor off\./],
    [['--max-batch', '0'], /'0' is not a whole number >= 1\./],
    [
      ['--max-batch', '300'],
      /^error: --max-batch 300: the largest merged model call \(images\) must be a whole number from 1 to 256$/m,
    ],
    [['--runtime', 'torch'], /Allowed choices are tfjs, onnx/],
  ];
  for (const [args, message] of refusals) {
    const result = serve(...args);
    assert.notEqual(result.status, 0, args.join(' '));
    assert.match(result.stderr, message, args.join(' '));
  }
});

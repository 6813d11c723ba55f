import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { quickRunDir } from '../../helpers/quick-run.js';

const dir = await mkdtemp(join(tmpdir(), 'mnist-cnn-evaluate-cli-'));
after(() => rm(dir, { recursive: true, force: true }));
// A copy: evaluate records its figures in the run's metadata.json.
const runDir = join(dir, 'run');
await cp(await quickRunDir(), runDir, { recursive: true });

function evaluate(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'evaluate', runDir, ...args], {
    encoding: 'utf8',
    timeout: 180_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

test('evaluate --runtime tfjs and --runtime onnx (the default) give the same metrics on the validation split, quietly; another runtime is refused', () => {
  const byRuntime: Record<string, { accuracy: number; loss: number; confusionMatrix: number[][] }> = {};
  for (const runtime of ['tfjs', 'onnx', undefined]) {
    const out = join(dir, `out-${runtime ?? 'default'}`);
    const result = evaluate('--split', 'val', '--json', '--out', out, ...(runtime ? ['--runtime', runtime] : []));
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr.replace(/^npm warn.*\n/gm, ''), '', 'no fallback notice');
    byRuntime[runtime ?? 'default'] = JSON.parse(result.stdout);
  }
  const { tfjs, onnx, default: unnamed } = byRuntime;
  assert.ok(tfjs.accuracy > 0.9, `accuracy ${tfjs.accuracy}`);
  assert.equal(onnx.accuracy, tfjs.accuracy);
  assert.deepEqual(onnx.confusionMatrix, tfjs.confusionMatrix);
  assert.ok(Math.abs(onnx.loss - tfjs.loss) < 1e-5, `loss ${onnx.loss} vs ${tfjs.loss}`);
  assert.deepEqual(unnamed.confusionMatrix, onnx.confusionMatrix);
  const refused = evaluate('--runtime', 'torch');
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /--runtime <name>' argument 'torch' is invalid\. Allowed choices are tfjs, onnx/);
});

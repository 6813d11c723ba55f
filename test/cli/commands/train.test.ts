import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../../src/backend/index.js';
import { loadMnist } from '../../../src/data/index.js';
import { accuracyAndLoss } from '../../../src/metrics/classification.js';
import { probabilitiesOf } from '../../helpers/probabilities.js';
import { loadModel } from '../../../src/model/io.js';
import { quickRunDir } from '../../helpers/quick-run.js';

function runCli(args: string[]) {
  const child = spawn(process.execPath, ['bin/mnist-cnn.js', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  return { child, exited, output: () => ({ stdout, stderr }) };
}

const work = await mkdtemp(join(tmpdir(), 'mnist-cnn-cli-'));
after(() => rm(work, { recursive: true, force: true }));

const waitFor = async (check: () => boolean, what: string) => {
  for (let i = 0; i < 1200 && !check(); i++) await new Promise((r) => setTimeout(r, 50));
  assert.ok(check(), `waited for ${what}`);
};

test('Ctrl-C stops after the current batch with a checkpoint; --resume finishes the run', async () => {
  const dir = join(work, 'ctrl-c');
  const run = runCli(['train', '--limit', '4000', '--epochs', '2', '--batch-size', '64', '--out', dir, '--json']);
  // val-indices.json is written just before the first batch.
  await waitFor(() => existsSync(join(dir, 'val-indices.json')), 'training to start');
  await new Promise((r) => setTimeout(r, 500));
  run.child.kill('SIGINT');
  assert.equal(await run.exited, 130);
  assert.match(run.output().stderr, /checkpoint saved\. Continue with: mnist-cnn train --resume /);
  const state = JSON.parse(readFileSync(join(dir, 'checkpoints/last/state.json'), 'utf8'));
  assert.ok(state.step > 0 && state.step < 2 * Math.ceil(3667 / 64), `stopped part-way (step ${state.step})`);

  const resumed = runCli(['train', '--resume', dir, '--json']);
  assert.equal(await resumed.exited, 0, resumed.output().stderr);
  const epochs = resumed
    .output()
    .stdout.trim()
    .split('\n')
    .map((line) => JSON.parse(line));
  assert.deepEqual(
    epochs.map((e) => e.epoch),
    state.epoch === 0 ? [1, 2] : [2],
  );
  const metadata = JSON.parse(readFileSync(join(dir, 'metadata.json'), 'utf8'));
  assert.equal(metadata.epochsCompleted, 2);
  assert.ok(metadata.finishedAt);
});

test('SIGTERM saves a checkpoint like Ctrl-C (exit 143); meanwhile a second training of the folder is refused in one line', async () => {
  const dir = join(work, 'sigterm');
  const run = runCli(['train', '--limit', '6000', '--epochs', '3', '--batch-size', '64', '--out', dir, '--json']);
  await waitFor(() => existsSync(join(dir, 'val-indices.json')), 'training to start');
  const second = runCli(['train', '--limit', '1000', '--epochs', '1', '--out', dir]);
  assert.equal(await second.exited, 2);
  const lines = second.output().stderr.trim().split('\n');
  assert.equal(lines.length, 1, second.output().stderr);
  assert.match(
    lines[0],
    new RegExp(
      `^error: ${dir} is in use by another training \\(process ${run.child.pid} on this machine, since .*\\); wait for it to end, or use another folder$`,
    ),
  );
  assert.equal(
    JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).epochs,
    3,
    "config.json is the first training's",
  );

  run.child.kill('SIGTERM');
  assert.equal(await run.exited, 143, run.output().stderr);
  assert.match(run.output().stderr, /checkpoint saved\. Continue with: mnist-cnn train --resume /);
  assert.ok(existsSync(join(dir, 'checkpoints/last/state.json')));
  assert.equal(existsSync(join(dir, 'training.lock')), false, 'the lock is released');
});

test("the training issue's quick run (default net, 1 epoch, stratified 6,000 images, seed 1) scores at least 95% on the full test set", async () => {
  const dir = await quickRunDir();
  await initBackend('wasm');
  const data = await loadMnist();
  const model = await loadModel(dir);
  const { accuracy } = accuracyAndLoss(await probabilitiesOf(model, data.test), data.test.labels);
  model.dispose();
  assert.ok(accuracy >= 0.95, `test accuracy ${accuracy}`);
});

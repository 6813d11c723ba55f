import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { freshTrainState, saveCheckpoint } from '../../src/train/checkpoint.js';
import type { TrainConfig } from '../../src/train/config.js';
import { resolveConfig } from '../../src/train/config-file.js';
import { createRunFolder, openRunToResume } from '../../src/train/run-folder.js';
import { UserError } from '../../src/util/errors.js';
import { removeTempDirs, startBackend, tempDir, tinyModel } from '../helpers/run-fixtures.js';

before(startBackend);
after(removeTempDirs);

const config = (flags: Partial<TrainConfig> = {}) => resolveConfig({ flags: { epochs: 2, limit: 1000, ...flags } });

/** A run folder as an interrupted training leaves it: config.json and checkpoints/last, unlocked. */
async function interruptedRun(trainedWith: TrainConfig = config()): Promise<string> {
  const run = await createRunFolder(trainedWith, { outDir: join(await tempDir('mnist-cnn-runfolder-'), 'run') });
  const model = tinyModel();
  const optimizer = tf.train.adam(0.01);
  await saveCheckpoint(
    join(run.dir, 'checkpoints', 'last'),
    model,
    optimizer,
    { ...freshTrainState(), step: 3, batch: 3 },
    trainedWith,
  );
  model.dispose();
  optimizer.dispose();
  await run.lock.release();
  return run.dir;
}

function deadPid(): number {
  return Number(
    spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout,
  );
}

test('a run folder is locked while a training uses it: a second training is refused and its config.json is left alone', async () => {
  const dir = join(await tempDir('mnist-cnn-runfolder-'), 'run');
  const first = await createRunFolder(config(), { outDir: dir });
  const written = await readFile(join(dir, 'config.json'), 'utf8');
  await assert.rejects(createRunFolder(config({ epochs: 9 }), { outDir: dir }), (err: Error) => {
    assert.ok(err instanceof UserError);
    assert.match(
      err.message,
      new RegExp(
        `^${dir} is in use by another training \\(process ${process.pid} on this machine, since .*\\); wait for it to end, or use another folder$`,
      ),
    );
    return true;
  });
  assert.equal(await readFile(join(dir, 'config.json'), 'utf8'), written);
  await assert.rejects(openRunToResume(dir), /is in use by another training/);
  await first.lock.release();
  assert.equal(existsSync(join(dir, 'training.lock')), false);
});

test('a lock left by a training that died is taken over', async () => {
  const dir = await interruptedRun();
  await writeFile(
    join(dir, 'training.lock'),
    JSON.stringify({ pid: deadPid(), hostname: hostname(), since: '2026-01-01T00:00:00.000Z' }),
  );
  const run = await openRunToResume(dir);
  assert.equal(JSON.parse(await readFile(join(dir, 'training.lock'), 'utf8')).pid, process.pid);
  await run.lock.release();
  // A folder that holds a run is refused to a fresh training, even unlocked.
  await assert.rejects(
    createRunFolder(config(), { outDir: dir }),
    /already holds a run: choose another --out, or continue it with --resume/,
  );
});

test('an invalid config.json at resume is refused, naming the file (and unlocks the folder)', async () => {
  const dir = await interruptedRun();
  const path = join(dir, 'config.json');
  await writeFile(path, '{"epochs": 3,');
  await assert.rejects(
    openRunToResume(dir),
    (err: Error) => err instanceof UserError && err.message.startsWith(`${path}: not valid JSON`),
  );
  await writeFile(path, JSON.stringify({ ...config(), epochs: 'many' }));
  await assert.rejects(
    openRunToResume(dir),
    (err: Error) => err.message === `${path}: 'epochs' must be a number, got "many"`,
  );
  await writeFile(path, JSON.stringify({ ...config(), speed: 11 }));
  await assert.rejects(openRunToResume(dir), new RegExp(`^UserError: ${path}: unknown config key 'speed'`));
  assert.equal(existsSync(join(dir, 'training.lock')), false);
});

test('a config.json changed since the checkpoint is refused, naming the keys, unless resume is told so', async () => {
  const dir = await interruptedRun(config({ epochs: 2, lr: 0.004 }));
  await writeFile(join(dir, 'config.json'), JSON.stringify(config({ epochs: 3, lr: 0.01 })));
  await assert.rejects(openRunToResume(dir), (err: Error) => {
    assert.equal(
      err.message,
      `${join(dir, 'config.json')} has changed since the checkpoint was saved (epochs 2 → 3, lr 0.004 → 0.01); put it back, or resume with --allow-config-change to continue with the changed config`,
    );
    return true;
  });
  const run = await openRunToResume(dir, { allowConfigChange: true });
  assert.equal(run.config.epochs, 3);
  await run.lock.release();
});

test('a checkpoint whose save was cut short is recovered from the copy beside it, not "nothing to resume"', async () => {
  const dir = await interruptedRun();
  const last = join(dir, 'checkpoints', 'last');
  await rename(last, `${last}.old-999999`);
  const notices: string[] = [];
  const run = await openRunToResume(dir, { notice: (message) => notices.push(message) });
  assert.equal(run.checkpointDir, last);
  assert.ok(existsSync(join(last, 'state.json')));
  assert.match(notices.join('\n'), /recovered the checkpoint from .*last\.old-999999/);
  await run.lock.release();

  await rename(last, join(dir, 'checkpoints', 'elsewhere'));
  await assert.rejects(openRunToResume(dir), new RegExp(`${last} is missing: nothing to resume`));
});

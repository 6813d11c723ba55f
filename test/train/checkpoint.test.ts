import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import {
  freshTrainState,
  loadCheckpoint,
  readCheckpointConfig,
  recoverCheckpoint,
  saveCheckpoint,
  type TrainState,
} from '../../src/train/checkpoint.js';
import { UserError } from '../../src/util/errors.js';
import { removeTempDirs, startBackend, tempDir, tinyModel } from '../helpers/run-fixtures.js';

before(startBackend);
after(removeTempDirs);

const CONFIG = { arch: 'tiny', epochs: 2, lr: 0.01 };

/** A model and an Adam optimizer one step in, so the optimizer has state to save. */
function trainedPair(): { model: tf.LayersModel; optimizer: tf.Optimizer } {
  const model = tinyModel();
  const optimizer = tf.train.adam(0.01);
  const x = tf.randomUniform([4, 28, 28, 1], 0, 1, 'float32', 3);
  optimizer.minimize(
    () => tf.mean(tf.square(model.predict(x) as tf.Tensor)) as tf.Scalar,
    false,
    model.trainableWeights.map((w) => w.read() as tf.Variable),
  );
  x.dispose();
  return { model, optimizer };
}

const stateAt = (step: number): TrainState => ({ ...freshTrainState(), step, batch: step });

async function savedCheckpoint(step = 3): Promise<string> {
  const dir = join(await tempDir('mnist-cnn-checkpoint-'), 'checkpoints', 'last');
  const { model, optimizer } = trainedPair();
  await saveCheckpoint(dir, model, optimizer, stateAt(step), CONFIG);
  model.dispose();
  optimizer.dispose();
  return dir;
}

const copiesBeside = async (dir: string) => (await readdir(dirname(dir))).filter((name) => name !== 'last').sort();

test('a checkpoint reads back: state, optimizer state, model and the config it trained with', async () => {
  const dir = await savedCheckpoint(3);
  const loaded = await loadCheckpoint(dir, { optimizer: 'Adam' });
  assert.deepEqual(loaded.state, stateAt(3));
  assert.ok(loaded.optimizerWeights.length > 2);
  assert.equal(loaded.model.countParams(), 7850);
  assert.deepEqual(await readCheckpointConfig(dir), CONFIG);
  assert.deepEqual(await copiesBeside(dir), []);
  loaded.model.dispose();
  tf.dispose(loaded.optimizerWeights.map((w) => w.tensor));
  await assert.rejects(
    loadCheckpoint(dir, { optimizer: 'Momentum' }),
    /optimizer\.json: holds the state of a Adam optimizer, but the run's config asks for Momentum/,
  );
});

test('a damaged state.json, optimizer.json or optimizer.bin is refused, naming the file', async () => {
  const cases: [string, (text: Uint8Array) => string | Uint8Array, RegExp][] = [
    ['state.json', () => '{"epoch": 0, "batch"', /state\.json: not valid JSON/],
    [
      'state.json',
      (text) => JSON.stringify({ ...JSON.parse(Buffer.from(text).toString()), epoch: 'one' }),
      /state\.json: not a training state this program wrote \('epoch' must be a whole number >= 0, got "one"\); the checkpoint is damaged/,
    ],
    [
      'state.json',
      (text) =>
        JSON.stringify({
          ...JSON.parse(Buffer.from(text).toString()),
          partial: { loss: null, correct: 0, seen: 0, seconds: 0 },
        }),
      /state\.json: .*'partial\.loss' must be a number, got null/,
    ],
    [
      'state.json',
      (text) => JSON.stringify({ ...JSON.parse(Buffer.from(text).toString()), bestValLoss: 'low' }),
      /state\.json: .*'bestValLoss' must be a number or null, got "low"/,
    ],
    ['optimizer.json', () => '{"className": "Adam"}', /optimizer\.json: not an optimizer state this program wrote/],
    [
      'optimizer.bin',
      (bytes) => bytes.subarray(0, 100),
      /optimizer\.bin: is 100 bytes, but optimizer\.json describes \d+ bytes; the checkpoint is damaged/,
    ],
    [
      'optimizer.bin',
      (bytes) => new Uint8Array(new Float32Array(bytes.byteLength / 4).fill(Number.NaN).buffer),
      /optimizer\.bin: the optimizer state .* is NaN or infinite/,
    ],
  ];
  for (const [file, damage, message] of cases) {
    const dir = await savedCheckpoint();
    const path = join(dir, file);
    await writeFile(path, damage(new Uint8Array(await readFile(path))));
    await assert.rejects(loadCheckpoint(dir), (err: Error) => {
      assert.ok(err instanceof UserError, `${file}: ${err.stack}`);
      assert.ok(err.message.startsWith(path), err.message);
      assert.match(err.message, message);
      return true;
    });
  }
});

test('a checkpoint written before the best epoch was picked by loss gets its loss from the history', async () => {
  const dir = await savedCheckpoint();
  const path = join(dir, 'state.json');
  const { bestValLoss: _dropped, ...older } = JSON.parse(await readFile(path, 'utf8')) as TrainState;
  const epoch = (n: number, valLoss: number | null, loss: number) => ({
    epoch: n,
    loss,
    accuracy: 0.9,
    val_loss: valLoss,
    val_accuracy: valLoss === null ? null : 0.95,
    lr: 0.001,
    seconds: 1,
  });
  await writeFile(
    path,
    JSON.stringify({ ...older, bestEpoch: 2, history: [epoch(1, 0.3, 0.5), epoch(2, 0.2, 0.4), epoch(3, 0.25, 0.35)] }),
  );
  const loaded = await loadCheckpoint(dir);
  assert.equal(loaded.state.bestValLoss, 0.2);
  loaded.model.dispose();
  tf.dispose(loaded.optimizerWeights.map((w) => w.tensor));
  // Without a validation split, the training loss.
  await writeFile(path, JSON.stringify({ ...older, bestEpoch: 1, history: [epoch(1, null, 0.5)] }));
  const noVal = await loadCheckpoint(dir);
  assert.equal(noVal.state.bestValLoss, 0.5);
  noVal.model.dispose();
  tf.dispose(noVal.optimizerWeights.map((w) => w.tensor));
});

test('a save cut short between its renames is recovered from the copy beside it, and leftovers are removed', async () => {
  // The process died after moving the old checkpoint aside: only last.old-PID is left, with an unfinished last.tmp-PID.
  const dir = await savedCheckpoint(5);
  await rename(dir, `${dir}.old-999999`);
  await mkdir(`${dir}.tmp-999998`);
  await writeFile(join(`${dir}.tmp-999998`, 'model.json'), '{}');
  const done = await recoverCheckpoint(dir);
  assert.match(
    done!,
    /recovered the checkpoint from .*last\.old-999999 \(a save was cut short\); removed 1 unfinished checkpoint copy/,
  );
  assert.equal((await loadCheckpoint(dir)).state.step, 5);
  assert.deepEqual(await copiesBeside(dir), []);
  assert.equal(await recoverCheckpoint(dir), undefined);

  // Both copies complete (the new one written, the old one moved aside): the further one wins.
  const newer = await savedCheckpoint(9);
  const older = await savedCheckpoint(4);
  await rename(newer, join(dirname(older), 'last.tmp-999997'));
  await rename(older, join(dirname(older), 'last.old-999997'));
  await recoverCheckpoint(older);
  assert.equal((await loadCheckpoint(older)).state.step, 9);
  assert.deepEqual(await copiesBeside(older), []);
});

test('a save removes copies left by a dead process; a failed save keeps the previous checkpoint and says so', async () => {
  const dir = await savedCheckpoint(2);
  await mkdir(`${dir}.tmp-999996`);
  await writeFile(join(`${dir}.tmp-999996`, 'weights.bin'), new Uint8Array(1000));
  await mkdir(`${dir}.old-999996`);
  const { model, optimizer } = trainedPair();
  await saveCheckpoint(dir, model, optimizer, stateAt(3), CONFIG);
  assert.deepEqual(await copiesBeside(dir), []);

  // The disk fills up while the optimizer state is written.
  const full = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', syscall: 'write' });
  const failing = Object.create(optimizer, { getWeights: { value: () => Promise.reject(full) } }) as tf.Optimizer;
  await assert.rejects(saveCheckpoint(dir, model, failing, stateAt(4), CONFIG), (err: Error) => {
    assert.ok(err instanceof UserError);
    assert.equal(
      err.message,
      `cannot save the checkpoint ${dir}: no space left on the device (ENOSPC, write); the previous checkpoint ${dir} is kept`,
    );
    return true;
  });
  assert.deepEqual(await copiesBeside(dir), []);
  assert.equal((await loadCheckpoint(dir)).state.step, 3);
  assert.ok(existsSync(join(dir, 'config.json')));
  model.dispose();
  optimizer.dispose();
});

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadModel, saveModel } from '../../src/model/io.js';
import { weightsSha256 } from '../../src/model/model-files.js';
import { UserError } from '../../src/util/errors.js';
import { removeTempDirs, startBackend, tempDir, tinyModel } from '../helpers/run-fixtures.js';

before(startBackend);
after(removeTempDirs);

async function savedTinyModel(): Promise<string> {
  const dir = await tempDir('mnist-cnn-io-');
  const model = tinyModel();
  await saveModel(model, dir);
  model.dispose();
  return dir;
}

/** Overwrite one float of weights.bin. */
async function setWeight(dir: string, index: number, value: number): Promise<void> {
  const path = join(dir, 'weights.bin');
  const bytes = new Uint8Array(await readFile(path));
  new DataView(bytes.buffer).setFloat32(4 * index, value, true);
  await writeFile(path, bytes);
}

test('weights that are NaN or infinite are refused at load, naming the file and the weight', async () => {
  for (const value of [Number.NaN, Number.POSITIVE_INFINITY]) {
    const dir = await savedTinyModel();
    await setWeight(dir, 7849, value); // the last one: the dense layer's last bias
    await assert.rejects(loadModel(dir), (err: Error) => {
      assert.ok(err instanceof UserError);
      assert.ok(err.message.startsWith(`${join(dir, 'weights.bin')}: the weights of dense`), err.message);
      assert.match(err.message, /\/bias are NaN or infinite: the model is broken/);
      return true;
    });
  }
});

test('a weights.bin that is not the one recorded is refused; the recorded one loads', async () => {
  const dir = await savedTinyModel();
  const sha = await weightsSha256(dir);
  assert.equal(
    sha,
    createHash('sha256')
      .update(await readFile(join(dir, 'weights.bin')))
      .digest('hex'),
  );
  (await loadModel(dir, { weightsSha256: sha })).dispose();
  await setWeight(dir, 0, 0.125);
  await assert.rejects(loadModel(dir, { weightsSha256: sha }), (err: Error) => {
    assert.ok(err instanceof UserError);
    assert.match(
      err.message,
      new RegExp(
        `weights\\.bin: its SHA-256 is [0-9a-f]{64}, but metadata\\.json records ${sha}: the weights were changed or damaged`,
      ),
    );
    return true;
  });
  assert.equal(await weightsSha256(join(dir, 'nowhere')), undefined);
});

test('a model.json TensorFlow.js cannot build from is refused as a UserError naming it', async () => {
  const dir = await savedTinyModel();
  const path = join(dir, 'model.json');
  const json = JSON.parse(await readFile(path, 'utf8'));
  await writeFile(path, JSON.stringify({ ...json, modelTopology: { class_name: 'NoSuchModel', config: {} } }));
  await assert.rejects(
    loadModel(dir),
    (err: Error) =>
      err instanceof UserError && err.message.startsWith(`${path}: not a model TensorFlow.js can build (`),
  );
  await writeFile(
    path,
    JSON.stringify({ ...json, weightsManifest: [{ paths: ['./weights.bin'], weights: [{ name: 'x' }] }] }),
  );
  await assert.rejects(loadModel(dir), /model\.json: its weightsManifest is damaged/);
});

test(
  'a weights.bin that is a folder, a FIFO or unreadable is a weights.bin error, not a model.json one, and a FIFO never blocks the load',
  { skip: process.platform === 'win32' },
  async () => {
    const weightsError = (dir: string, kind: RegExp) => (err: Error) => {
      assert.ok(err instanceof UserError, `${err.name}: ${err.message}`);
      assert.ok(err.message.startsWith(`${join(dir, 'weights.bin')}: `), err.message);
      assert.match(err.message, kind);
      return true;
    };
    const folder = await savedTinyModel();
    await rm(join(folder, 'weights.bin'));
    await mkdir(join(folder, 'weights.bin'));
    await assert.rejects(
      loadModel(folder),
      weightsError(folder, /is a folder, not a regular file, so it is not read as the weights$/),
    );
    await assert.rejects(weightsSha256(folder), weightsError(folder, /is a folder/));
    const fifo = await savedTinyModel();
    await rm(join(fifo, 'weights.bin'));
    assert.equal(spawnSync('mkfifo', [join(fifo, 'weights.bin')]).status, 0, 'mkfifo');
    await assert.rejects(loadModel(fifo), weightsError(fifo, /is a FIFO, not a regular file/));
    // Permissions bind everyone but root (these tests may run as root, who reads anything).
    if (process.getuid?.() !== 0) {
      const locked = await savedTinyModel();
      await chmod(join(locked, 'weights.bin'), 0);
      await assert.rejects(loadModel(locked), weightsError(locked, /cannot be read as the weights \(EACCES\)$/));
    }
  },
);

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readRunHistory } from '../../src/model/history.js';
import { removeTempDirs, tempDir } from '../helpers/run-fixtures.js';

after(removeTempDirs);

test('a history.csv without the expected columns is refused, naming the file and the columns', async () => {
  const dir = await tempDir('mnist-cnn-plots-');
  await writeFile(join(dir, 'history.csv'), 'epoch,loss,accuracy\n1,0.5,0.9\n');
  await assert.rejects(readRunHistory(dir), (err: Error) => err.message.includes(join(dir, 'history.csv')) && err.message.includes('val_loss'));
  assert.equal(await readRunHistory(await tempDir('mnist-cnn-plots-')), undefined);
});

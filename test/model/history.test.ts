import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { historyToCsv, parseHistoryCsv, readRunHistory } from '../../src/model/history.js';
import { removeTempDirs, tempDir } from '../helpers/run-fixtures.js';

after(removeTempDirs);

test('a history.csv without the expected columns is refused, naming the file and the columns', async () => {
  const dir = await tempDir('mnist-cnn-plots-');
  await writeFile(join(dir, 'history.csv'), 'epoch,loss,accuracy\n1,0.5,0.9\n');
  await assert.rejects(
    readRunHistory(dir),
    (err: Error) => err.message.includes(join(dir, 'history.csv')) && err.message.includes('val_loss'),
  );
  assert.equal(await readRunHistory(await tempDir('mnist-cnn-plots-')), undefined);
});

test('history.csv round-trips with val_loss_calibrated, and one written before that column is still read', () => {
  const rows = [
    {
      epoch: 1,
      loss: 0.5,
      accuracy: 0.9,
      val_loss: 0.3,
      val_accuracy: 0.95,
      lr: 0.004,
      seconds: 70,
      val_loss_calibrated: 0.1,
    },
    {
      epoch: 2,
      loss: 0.4,
      accuracy: 0.93,
      val_loss: null,
      val_accuracy: null,
      lr: 0.002,
      seconds: 71,
      val_loss_calibrated: null,
    },
  ];
  const text = historyToCsv(rows);
  assert.equal(text.split('\n')[0], 'epoch,loss,accuracy,val_loss,val_accuracy,lr,seconds,val_loss_calibrated');
  assert.deepEqual(parseHistoryCsv(text), rows);
  const older = parseHistoryCsv('epoch,loss,accuracy,val_loss,val_accuracy,lr,seconds\n1,0.5,0.9,0.3,0.95,0.004,70\n');
  assert.deepEqual(older, [
    { epoch: 1, loss: 0.5, accuracy: 0.9, val_loss: 0.3, val_accuracy: 0.95, lr: 0.004, seconds: 70 },
  ]);
});

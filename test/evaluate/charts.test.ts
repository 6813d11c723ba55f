import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  confusionMatrixSpec,
  learningCurvesSpec,
  perClassSpec,
  reliabilitySpec,
  renderSpec,
} from '../../src/evaluate/charts.js';
import type { Picture } from '../../src/evaluate/picture.js';
import { assertValidPicture, constructedSet } from '../helpers/pictures.js';
import { readRunHistory } from '../../src/model/history.js';
import { FIXTURE_HISTORY, removeTempDirs, tempDir } from '../helpers/run-fixtures.js';

const CLASSES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

after(removeTempDirs);

test('every chart renders to a valid SVG and a PNG of twice its size, with its text', async () => {
  const { metrics } = constructedSet();
  const dir = await tempDir('mnist-cnn-plots-');
  await writeFile(join(dir, 'history.csv'), FIXTURE_HISTORY);
  const history = await readRunHistory(dir);
  assert.equal(history?.length, 3);
  assert.deepEqual(history?.[1], {
    epoch: 2,
    loss: 1.2,
    accuracy: 0.7,
    val_loss: 1.0,
    val_accuracy: 0.76,
    lr: 0.003,
    seconds: 20,
  });
  // An epoch without validation (empty cells) draws train points only.
  const values = (
    learningCurvesSpec([
      ...history,
      { epoch: 4, loss: 0.5, accuracy: 0.9, val_loss: null, val_accuracy: null, lr: 0.001, seconds: 20 },
    ]) as { data: { values: { set: string; epoch: number; value: number }[] } }
  ).data.values;
  assert.equal(values.length, 3 * 4 + 2);
  assert.deepEqual(
    values.filter((v) => v.epoch === 4).map((v) => v.set),
    ['train', 'train'],
  );
  assert.ok(values.every((v) => typeof v.value === 'number'));
  const charts: [string, Picture][] = [
    ['Loss (cross-entropy)', await renderSpec(learningCurvesSpec(history))],
    ['Confusion matrix', await renderSpec(confusionMatrixSpec(metrics.confusionMatrix, CLASSES))],
    ['Precision, recall and F1', await renderSpec(perClassSpec(metrics.perClass, CLASSES))],
    ['Reliability diagram', await renderSpec(reliabilitySpec(metrics.calibration, metrics.ece))],
  ];
  for (const [title, picture] of charts) {
    await assertValidPicture(picture);
    assert.ok(picture.svg.includes(title), `${title}: title in the SVG`);
  }
  // The confusion matrix annotates every cell with its count.
  const cellTexts = charts[1][1].svg.match(/<text[^>]*>\d+<\/text>/g) ?? [];
  assert.ok(cellTexts.length >= 100, `100 cell labels, got ${cellTexts.length}`);
});

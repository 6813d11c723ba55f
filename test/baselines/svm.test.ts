import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fitPca, projectPca } from '../../src/baselines/pca.js';
import { trainSvm } from '../../src/baselines/svm.js';
import { PIXELS } from '../../src/data/types.js';
import { startBackend } from '../helpers/run-fixtures.js';
import { CHANCE_ERROR, errorOf, smallMnist } from '../helpers/small-mnist.js';

test('an RBF SVM (libsvm-js) on 30 PCA components of 1,800 images errs on under 12% of the test images (chance: 90%)', async () => {
  await startBackend();
  const sets = await smallMnist(2000, 1000);
  const pca = await fitPca(sets.x.train, PIXELS, 30);
  const svm = await trainSvm(projectPca(pca, sets.x.train), 30, sets.train.labels, { gamma: 0.04, cost: 5 });
  try {
    const error = errorOf(svm.predict(projectPca(pca, sets.x.test)), sets.test.labels);
    assert.ok(error < 0.12 && error < CHANCE_ERROR, `test error ${error}`);
    assert.ok(svm.supportVectors > 0 && svm.supportVectors <= sets.train.count);
    assert.ok(svm.sizeBytes > 0);
  } finally {
    svm.free();
  }
});

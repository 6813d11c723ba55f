import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseK, knnVote, nearestNeighbours } from '../../src/baselines/knn.js';
import { fitPca, projectPca } from '../../src/baselines/pca.js';
import { PIXELS } from '../../src/data/types.js';
import { startBackend } from '../helpers/run-fixtures.js';
import { CHANCE_ERROR, errorOf, smallMnist } from '../helpers/small-mnist.js';

test('PCA: orthonormal components, most variance first; k-NN on 40 of them errs on under 15% of the test images (chance: 90%)', async () => {
  await startBackend();
  const sets = await smallMnist(2000, 1000);
  const pca = await fitPca(sets.x.train, PIXELS, 40);
  for (const [a, b] of [
    [0, 0],
    [0, 1],
    [5, 39],
    [39, 39],
  ]) {
    let dot = 0;
    for (let d = 0; d < PIXELS; d++) dot += pca.basis[d * 40 + a] * pca.basis[d * 40 + b];
    assert.ok(Math.abs(dot - (a === b ? 1 : 0)) < 1e-4, `components ${a} and ${b}: dot ${dot}`);
  }
  assert.ok(pca.explained.every((share, i) => i === 0 || share <= pca.explained[i - 1]));
  const kept = pca.explained.reduce((sum, share) => sum + share, 0);
  assert.ok(kept > 0.6 && kept < 1, `40 components explain ${kept} of the variance`);
  // The projection of the training rows is centred.
  const train = projectPca(pca, sets.x.train);
  const mean0 = train.filter((_, i) => i % 40 === 0).reduce((a, b) => a + b, 0) / sets.train.count;
  assert.ok(Math.abs(mean0) < 1e-3, `mean of the first component ${mean0}`);
  const val = projectPca(pca, sets.x.val, 20);
  assert.equal(val.length, sets.val.count * 20);
  const { k } = chooseK(
    await nearestNeighbours(train, projectPca(pca, sets.x.val), 40, 10),
    sets.train.labels,
    sets.val.labels,
  );
  const error = errorOf(
    knnVote(await nearestNeighbours(train, projectPca(pca, sets.x.test), 40, k), sets.train.labels, k),
    sets.test.labels,
  );
  assert.ok(error < 0.15 && error < CHANCE_ERROR, `test error ${error}`);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { trainForest } from '../../src/baselines/forest.js';
import { fitPca, projectPca } from '../../src/baselines/pca.js';
import { stratifiedSubset } from '../../src/data/split.js';
import { PIXELS } from '../../src/data/types.js';
import { scalePixels } from '../../src/data/model-input.js';
import { createRng } from '../../src/util/rng.js';
import { startBackend } from '../helpers/run-fixtures.js';
import { CHANCE_ERROR, errorOf, smallMnist } from '../helpers/small-mnist.js';

test('a random forest (ml-random-forest, 8 trees) on 20 PCA components of 250 images errs on under 50% of the test images (chance: 90%)', async () => {
  await startBackend();
  const sets = await smallMnist(2000, 500);
  const pca = await fitPca(sets.x.train, PIXELS, 20);
  const few = stratifiedSubset(sets.train, 250, createRng(2));
  const forest = trainForest(projectPca(pca, scalePixels(few.images)), 20, few.labels, {
    trees: 8,
    featureShare: 0.5,
    seed: 1,
  });
  const error = errorOf(forest.predict(projectPca(pca, sets.x.test)), sets.test.labels);
  assert.ok(error < 0.5 && error < CHANCE_ERROR, `test error ${error}`);
  assert.ok(forest.sizeBytes > 0);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadMnist, classCounts } from '../../src/data/index.js';

test('the real MNIST loads from the verified npm package with the known counts', async () => {
  const data = await loadMnist();
  assert.equal(data.source.kind, 'package');
  assert.equal(data.train.count, 60000);
  assert.equal(data.test.count, 10000);
  assert.deepEqual(classCounts(data.test.labels), [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
  assert.ok(data.files.every((f) => f.verified));
});

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, rename, symlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { loadMnist } from '../../src/data/load.js';
import { evaluateRun } from '../../src/evaluate/evaluate.js';
import { compareRuns, listRuns } from '../../src/evaluate/runs.js';
import { makeRunDir, removeTempDirs, startBackend, tempDir, tinyModel } from '../helpers/run-fixtures.js';

before(startBackend);

async function runsFolder() {
  const root = await tempDir('mnist-cnn-runs-');
  const older = await makeRunDir({ meta: { createdAt: '2026-01-01T00:00:00.000Z', arch: 'lenet5' }, history: false });
  const newer = await makeRunDir({
    model: tinyModel(99),
    meta: { createdAt: '2026-02-01T00:00:00.000Z', epochsCompleted: 5 },
    history: false,
  });
  await rename(older, join(root, 'older'));
  await rename(newer, join(root, 'newer'));
  await mkdir(join(root, 'not-a-run'));
  await symlink(join(root, 'newer'), join(root, 'latest'));
  return root;
}

after(removeTempDirs);

test('`runs` lists run folders newest first, once each, with test accuracy once evaluated', async () => {
  const root = await runsFolder();
  let runs = await listRuns(root);
  assert.deepEqual(
    runs.map((r) => [r.run, r.arch, r.epochs, r.testAccuracy]),
    [
      ['newer', 'tiny-fixture', 5, null],
      ['older', 'lenet5', 3, null],
    ],
  );
  const { metrics } = await evaluateRun(join(root, 'older'), { plots: false });
  runs = await listRuns(root);
  assert.equal(runs[1].testAccuracy, metrics.accuracy);

  const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'runs', '--dir', root, '--json'], {
    encoding: 'utf8',
  });
  assert.equal(result.status, 0, result.stderr);
  assert.deepEqual(
    JSON.parse(result.stdout).map((r: { run: string }) => r.run),
    ['newer', 'older'],
  );
  await assert.rejects(listRuns(join(root, 'nope')), /nope does not exist/);
});

test('`compare`: the counts of right/wrong agree with both accuracies, and the listed images really differ', async () => {
  const root = await runsFolder();
  const a = join(root, 'older');
  const b = join(root, 'latest');
  // A has metrics.json; B is evaluated in memory by compare.
  const evaluatedA = await evaluateRun(a, { plots: false });
  const c = await compareRuns(a, b);
  const { labels } = (await loadMnist()).test;
  assert.equal(c.n, 10000);
  assert.equal(c.bothRight + c.bothWrong + c.onlyA.count + c.onlyB.count, 10000);
  assert.equal(c.a.accuracy, evaluatedA.metrics.accuracy);
  assert.equal(c.bothRight + c.onlyA.count, Math.round(c.a.accuracy * 10000));
  assert.equal(c.bothRight + c.onlyB.count, Math.round(c.b.accuracy * 10000));
  assert.ok(c.onlyA.count > 0 && c.onlyB.count > 0, 'two different untrained models disagree');
  const predictionsB = (await evaluateRun(b, { write: false, plots: false })).metrics.predictions;
  for (const i of c.onlyA.first) {
    assert.equal(Number(evaluatedA.metrics.predictions[i]), labels[i]);
    assert.notEqual(Number(predictionsB[i]), labels[i]);
  }
  assert.deepEqual(
    c.onlyA.first,
    [...c.onlyA.first].sort((x, y) => x - y),
  );
  assert.equal(c.onlyA.first.length, Math.min(20, c.onlyA.count));
  assert.equal(basename(c.b.run), 'latest');
});

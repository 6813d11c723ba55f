/**
 * The in-memory training session (what the page's Train panel runs in a browser), here in Node
 * with worker threads: it takes trainer.ts's very steps (the same weights after the same
 * recipe), checks the test set every quarter epoch, pauses, resumes and stops between steps,
 * and hands back a model with a metadata.json the CLI reads.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import { startNodeReplicaThread } from '../../src/backend/node-replica-thread.js';
import { loadMnist, type Dataset } from '../../src/data/index.js';
import { presetConfig, type TrainConfig } from '../../src/train/config.js';
import { CHECKS_PER_EPOCH, TrainingSession, type Check, type StepProgress } from '../../src/train/session.js';
import { train } from '../../src/train/trainer.js';
import { libraryVersions } from '../../src/util/version.js';
import { removeTempDirs, tempDir } from '../helpers/run-fixtures.js';

let data: Dataset;
before(async () => {
  await initBackend('wasm');
  data = await loadMnist();
});
after(removeTempDirs);

/** The `smoke` recipe on two threads: 1,500 training images, 500 held out, one epoch (24 steps of 64). */
const smoke = (overrides: Partial<TrainConfig> = {}) =>
  presetConfig('smoke', { batchSize: 64, threads: 2, ...overrides });

function session(
  config: TrainConfig,
  hooks: { onStep?: (progress: StepProgress, model: tf.LayersModel) => void; onCheck?: (check: Check) => void } = {},
) {
  return TrainingSession.start({
    config,
    data,
    backend: 'wasm',
    versions: libraryVersions(),
    startThread: startNodeReplicaThread,
    ...hooks,
  });
}

test("the session's weights are trainer.ts's for the same recipe, and it checks the test set every quarter epoch", async () => {
  const config = smoke();
  const steps: StepProgress[] = [];
  const checks: Check[] = [];
  const running = await session(config, { onStep: (p) => steps.push(p), onCheck: (c) => checks.push(c) });
  assert.equal(running.threads, 2);
  const result = await running.run();
  const trained = await train({
    config,
    outDir: join(await tempDir('mnist-session-'), 'run'),
    data,
    updateLatest: false,
  });
  const ours = result.model.getWeights().map((w) => w.dataSync());
  const theirs = trained.model.getWeights().map((w) => w.dataSync());
  assert.equal(ours.length, theirs.length);
  ours.forEach((w, i) => assert.deepEqual(w, theirs[i], `weight ${i} differs from trainer.ts's`));

  const batches = Math.ceil(1500 / 64);
  assert.deepEqual(
    steps.map((s) => s.step),
    Array.from({ length: batches }, (_, i) => i + 1),
  );
  assert.ok(steps.every((s) => s.totalSteps === batches && s.imagesPerSecond > 0 && Number.isFinite(s.loss)));
  const every = Math.ceil(batches / CHECKS_PER_EPOCH);
  assert.deepEqual(
    checks.map((c) => c.step),
    [every, 2 * every, 3 * every, batches],
  );
  assert.ok(checks.every((c) => c.val !== undefined && c.test.accuracy > 0 && c.seconds > 0));
  // Learning is tested by learning: the smoke recipe beats 80% on the 10,000 test images.
  assert.ok(result.checks.at(-1)!.test.accuracy > 0.8, `test accuracy ${result.checks.at(-1)!.test.accuracy}`);
  assert.equal(result.stopped, false);

  const { metadata } = result;
  assert.equal(metadata.format, 'mnist-cnn-run');
  assert.equal(metadata.arch, config.arch);
  assert.equal(metadata.epochsCompleted, 1);
  assert.equal(metadata.data.valCount, 500);
  assert.equal(metadata.test?.n, 10_000);
  assert.equal(metadata.test?.accuracy, checks.at(-1)!.test.accuracy);
  assert.equal(metadata.temperatureFit?.on, 'val');
  assert.equal(metadata.params, trained.metadata.params);
  assert.ok(metadata.finishedAt);
  result.model.dispose();
  trained.model.dispose();
});

test('pause holds it between steps, resume goes on, stop ends it with a last check of the model as it stands', async () => {
  const steps: number[] = [];
  let pausedAt = -1;
  const running: TrainingSession = await session(smoke({ valCount: 0, epochs: 2 }), {
    onStep: ({ step }) => {
      steps.push(step);
      if (step === 3) {
        running.pause();
        pausedAt = steps.length;
        setTimeout(() => running.resume(), 200);
      }
      if (step === 5) running.stop();
    },
  });
  const started = performance.now();
  const result = await running.run();
  assert.ok(performance.now() - started >= 200, 'the pause held');
  assert.equal(pausedAt, 3);
  assert.deepEqual(steps, [1, 2, 3, 4, 5]);
  assert.equal(result.stopped, true);
  assert.deepEqual(
    result.checks.map((c) => c.step),
    [5],
  );
  assert.equal(result.checks[0].val, undefined, 'no validation split: no validation score');
  assert.equal(result.metadata.epochsCompleted, 0);
  assert.equal(result.metadata.finishedAt, undefined);
  assert.equal(result.metadata.temperatureFit?.on, 'none');
  result.model.dispose();
});

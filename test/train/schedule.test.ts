import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_CONFIG } from '../../src/train/config.js';
import { learningRateAt } from '../../src/train/schedule.js';

test('one-cycle warms up from lr/25 to lr, then anneals to near zero; step and cosine decay', () => {
  const config = { ...DEFAULT_CONFIG, lr: 0.01, schedule: 'onecycle' as const, warmup: 0.2 };
  assert.ok(Math.abs(learningRateAt(0, 101, 10, config) - 0.01 / 25) < 1e-12);
  assert.ok(Math.abs(learningRateAt(20, 101, 10, config) - 0.01) < 1e-12);
  assert.ok(learningRateAt(100, 101, 10, config) < 1e-5);
  const step = { ...config, schedule: 'step' as const, gamma: 0.5, stepEpochs: 1 };
  assert.equal(learningRateAt(9, 100, 10, step), 0.01);
  assert.equal(learningRateAt(10, 100, 10, step), 0.005);
  const cosine = { ...config, schedule: 'cosine' as const };
  assert.equal(learningRateAt(0, 101, 10, cosine), 0.01);
  assert.ok(Math.abs(learningRateAt(50, 101, 10, cosine) - 0.005) < 1e-12);
});

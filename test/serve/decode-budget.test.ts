/**
 * The decode budget (issue #24): decodes across requests hold at most its bytes at once, wait in
 * arrival order, leave the queue when their request is given up or they have waited too long,
 * and a decode larger than the whole budget runs alone. Sized from the container's limit.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  containerMemoryLimit,
  DecodeBudget,
  decodeBudgetBytes,
  DECODE_SHARE,
  DEFAULT_MAX_MEMORY,
} from '../../src/serve/decode-budget.js';
import { ApiError } from '../../src/serve/errors.js';

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

/** Settle pending promise callbacks. */
const tick = () => new Promise((resolve) => setImmediate(resolve));

test('decodes hold at most the budget at once and are let in first come, first served; a release lets the next in', async () => {
  const budget = new DecodeBudget(100);
  const a = budget.acquire(60);
  assert.equal(typeof a, 'function', 'room and nobody waiting: at once, no promise');
  const order: string[] = [];
  const b = Promise.resolve(budget.acquire(50)).then((release) => (order.push('b'), release));
  // Small enough to fit beside a, but it arrived after b: it waits its turn.
  const c = Promise.resolve(budget.acquire(10)).then((release) => (order.push('c'), release));
  await tick();
  assert.deepEqual(order, []);
  assert.deepEqual(budget.state, { usedBytes: 60, waiting: 2 });
  (a as () => void)();
  const releaseB = await b;
  await c;
  assert.deepEqual(order, ['b', 'c']);
  assert.deepEqual(budget.state, { usedBytes: 60, waiting: 0 });
  releaseB();
  releaseB(); // twice is once
  assert.deepEqual(budget.state, { usedBytes: 10, waiting: 0 });
});

test('a decode larger than the whole budget runs alone, rather than never', async () => {
  const budget = new DecodeBudget(100);
  const small = budget.acquire(30) as () => void;
  const huge = Promise.resolve(budget.acquire(1_000));
  await tick();
  assert.equal(budget.state.waiting, 1);
  small();
  const release = await huge;
  assert.deepEqual(budget.state, { usedBytes: 100, waiting: 0 });
  release();
  assert.equal(budget.state.usedBytes, 0);
});

test("a waiting decode leaves the queue when its request's signal aborts (with its reason), or after the longest wait (503 busy); those behind it move up", async () => {
  const budget = new DecodeBudget(100, 200);
  const held = budget.acquire(100) as () => void;
  const controller = new AbortController();
  const reason = new Error('client gone');
  const aborted = budget.acquire(50, controller.signal);
  const waits = budget.acquire(50);
  controller.abort(reason);
  await assert.rejects(Promise.resolve(aborted), (err) => err === reason);
  assert.equal(budget.state.waiting, 1);
  await assert.rejects(
    Promise.resolve(waits),
    (err) => err instanceof ApiError && err.status === 503 && err.code === 'busy' && err.headers['retry-after'] === '5',
  );
  assert.deepEqual(budget.state, { usedBytes: 100, waiting: 0 });
  await assert.rejects(
    Promise.resolve(budget.acquire(10, controller.signal)),
    (err) => err === reason,
    'already aborted: not queued',
  );
  held();
  assert.equal(
    typeof budget.acquire(10, controller.signal),
    'function',
    'room: at once, even with an aborted signal (the decode checks it)',
  );
});

test('the budget is a share of the memory limit: the flag, else the container (cgroup v2 or v1), else 1 GiB; shared by the workers', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'decode-budget-'));
  dirs.push(dir);
  const file = async (name: string, text: string) => {
    await writeFile(join(dir, name), text);
    return join(dir, name);
  };
  assert.equal(containerMemoryLimit([await file('v2', '536870912\n')]), 512 * 2 ** 20);
  assert.equal(containerMemoryLimit([await file('v2-none', 'max\n')]), undefined);
  assert.equal(
    containerMemoryLimit([join(dir, 'absent'), await file('v1', '9223372036854771712\n')]),
    undefined,
    'v1 writes a huge number for none',
  );
  assert.equal(containerMemoryLimit([join(dir, 'absent'), await file('v1-set', '1073741824\n')]), 2 ** 30);
  assert.equal(decodeBudgetBytes(DEFAULT_MAX_MEMORY), Math.floor(2 ** 30 * DECODE_SHARE));
  assert.equal(decodeBudgetBytes(2 ** 30, 2), Math.floor((2 ** 30 * DECODE_SHARE) / 2));
  assert.equal(decodeBudgetBytes(2 ** 20), 64 * 2 ** 20, 'never below one 4096x4096 picture');
});

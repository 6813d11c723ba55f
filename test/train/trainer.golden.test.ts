/**
 * Golden weights: a short seeded run must give bit-identical weights, before and after any
 * refactor. The checksums were recorded on 2026-11-29 before the one-way-architecture refactor
 * (AMD EPYC, Node 20.20.2, tfjs 4.22 wasm); a change to them is a change of behaviour, not of
 * structure. (Wasm float arithmetic is deterministic across CPUs; if a new tfjs changes a
 * kernel, record the new values in the commit that upgrades it, and say so.) Re-recorded the same
 * day when the filter gradient of stride-1 'same' convolutions became chunked matMuls
 * (backend/conv-grads.ts, filterGradFromTaps): another summation order. With that path off, the
 * earlier checksums (default a7d73412…, compact cebd6c4c…) still matched. Re-recorded on
 * 2026-12-06 for our SIMD kernels (backend/simd.ts: Winograd 3x3 convolutions forward and
 * backward, the first layer's filter gradient, column sums, dense products): other summation
 * orders again (before: default f989fc3a…, compact a433519b…).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend } from '../../src/backend/index.js';
import { loadMnist, type Dataset } from '../../src/data/index.js';
import { resolveConfig } from '../../src/train/config-file.js';
import { train } from '../../src/train/trainer.js';
import { removeTempDirs, tempDir } from '../helpers/run-fixtures.js';

let data: Dataset;
let dir: string;
before(async () => {
  await initBackend('wasm');
  data = await loadMnist();
  dir = await tempDir('mnist-cnn-golden-');
});
after(removeTempDirs);

const GOLDEN: Record<string, string> = {
  default: '8b1e41316e1b4c9b3b4efe6d777f8220d42c66dc6749c58d32ea1d66ff989432',
  compact: 'f971a424ead2c9fcdb3b19cf108d15831dffe2ffec2263e19fff1bb9d8766d09',
};

for (const arch of Object.keys(GOLDEN)) {
  test(`golden weights: ${arch} net, 1 epoch on 1,200 images, seed 7, two threads, augmentation`, async () => {
    const config = resolveConfig({
      flags: { arch, limit: 1200, valCount: 200, epochs: 1, batchSize: 64, seed: 7, threads: 2 },
    });
    const result = await train({ config, outDir: join(dir, arch), data, updateLatest: false });
    result.model.dispose();
    const sha = createHash('sha256')
      .update(readFileSync(join(result.dir, 'weights.bin')))
      .digest('hex');
    assert.equal(sha, GOLDEN[arch], `weights.bin of the ${arch} run`);
  });
}

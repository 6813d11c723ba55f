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
 * orders again (before: default f989fc3a…, compact a433519b…). Re-recorded on 2026-12-06 (evening)
 * for the training batch norm's gradient as one kernel (model/batch-norm-layer.ts): the same
 * formula summed in another order (before: default 8b1e4131…, compact f971a424…, which the fused
 * Adam step, train/adam.ts, still matched with that layer on the stock path).
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
  default: 'eb2a8f4151db557fff542bee8d76936c91234e1a1f213ea8910f05d0c0a334a3',
  compact: 'c1ea990e5313235cd4773c243c2e9f3b7af7b7cbe78157850524f35e272d710e',
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

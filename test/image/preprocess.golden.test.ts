/**
 * Golden answers of the photo pipeline: the pipeline was made about three times cheaper per
 * 28x28 picture (selection instead of sorting for quantiles, an unrolled surface fit, reused
 * temporaries, cleaning rounds that stop once the ink mask repeats), and none of its answers
 * may change. The digests below were recorded on 2026-11-29 from the code as it was before
 * that work (a copy of src/image/preprocess.ts and pixel-ops.ts run side by side with the new
 * ones: identical on these sets and on 10,000 more MNIST digits), on a 2-core AMD EPYC,
 * Node 20.20.2. They cover every model input byte, every 28x28 picture, every not-a-digit
 * reason and the cleaned plane before rounding (test/helpers/preprocess-digests.ts).
 *
 * A changed digest is a changed answer. If it is meant (a new pipeline step, a retuned
 * constant), record the new digests in the same commit and say so. The distorted, printed and
 * non-digit sets are drawn by sharp (librsvg, fontconfig, libjpeg): a new sharp or new fonts
 * can change those pictures, and then their digests, with no change of ours.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadMnist } from '../../src/data/index.js';
import { extractInk, preprocessImage } from '../../src/image/preprocess.js';
import { preprocessDigests, type DigestSet } from '../helpers/preprocess-digests.js';

// The three MNIST sets share a digest: a grey PNG read as RGB, the grey pixels and their
// inversion (dark on light, turned back) all give the same bits.
const MNIST = 'b0c71a9d3b4d26b86e7fe4b7f13c3f8e9f5a8aaead29dd1302b4e6e7333c7e21';
const GOLDEN: Record<DigestSet, string> = {
  'mnist-png': MNIST,
  'mnist-gray': MNIST,
  'mnist-inverted': MNIST,
  'mnist-distorted': '66c21fe4a1af362f51e9ff2fd22ca0c6a823a0a01b09fce0d28a5951a64b6183',
  printed: 'c3bc4505fe5f316feaaa1a27f667f49b793b66bce7c9dfcdf1728bfc22f5bb5a',
  'non-digits': '1ea9b2c9f3bc509b06a3a2d76ca87af07a34346ac163a4641d49f267c48100e9',
  random: 'a6f14d60ce60d2e1181e95c4c808bf23bc0e9c946692275fae7de5ab6e53e017',
};

test('the photo pipeline gives bit-identical answers to the recorded ones on every set: MNIST as PNG, grey and inverted, distorted, printed, non-digits, random', async () => {
  const digests = await preprocessDigests({ preprocessImage, extractInk }, await loadMnist());
  for (const set of Object.keys(GOLDEN) as DigestSet[])
    assert.equal(digests[set], GOLDEN[set], `the ${set} set's answers changed`);
});

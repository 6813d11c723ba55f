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
  // Re-recorded on 2026-12-06 when the non-digits' train split got shapes of its own: the pictures
  // changed, not the pipeline (src/image/preprocess.ts and pixel-ops.ts untouched). The random set
  // then got a stream of its own, which the non-digits had shifted, and was re-recorded with it.
  'non-digits': 'b5e574ac1123fa7d55a51b943c41a86b3ddc7344c95c98c7739be147fd6a9b4f',
  random: '172057c51019a26a18175cb2a1a525eda714e9c7dccbe95c878bab473ff39b5e',
};

test('the photo pipeline gives bit-identical answers to the recorded ones on every set: MNIST as PNG, grey and inverted, distorted, printed, non-digits, random', async () => {
  const digests = await preprocessDigests({ preprocessImage, extractInk }, await loadMnist());
  for (const set of Object.keys(GOLDEN) as DigestSet[])
    assert.equal(digests[set], GOLDEN[set], `the ${set} set's answers changed`);
});

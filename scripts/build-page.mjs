#!/usr/bin/env node
// Bundles the draw-a-digit page (src/serve/page/) into dist/page/, which `mnist-cnn serve`
// serves at / and /page/*. No CDN: the page, the shared preprocessing and TensorFlow.js are
// all files of this package. TensorFlow.js (only for "Run the model in this browser") is a
// separate chunk, fetched on first use, so the page itself stays small.
//
//   node scripts/build-page.mjs [--out DIR]     (default dist/page)
import { join } from 'node:path';
import { bundlePage, fail, flag, ROOT, sizes, writeFolder } from './bundle.mjs';

const out = flag('--out', join(ROOT, 'dist', 'page'));
try {
  const metafile = await writeFolder(out, bundlePage);
  console.log(`built the page into ${out}: ${sizes(metafile)}`);
} catch (err) {
  fail(`building the page failed: ${err.message}`);
}

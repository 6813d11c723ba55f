#!/usr/bin/env node
// Bundles the package's browser entry (src/browser/index.ts, `import ... from 'mnist-cnn/browser'`)
// with TensorFlow.js into one ES module, dist/browser/mnist-cnn.js, which a page can import as
// it is (no bundler needed) and bundlers take as they take any ES module. Its types are tsc's
// dist/browser/index.d.ts. Written to a temporary name and renamed: tsc's files beside it stay.
//
//   node scripts/build-browser.mjs [--out FILE]     (default dist/browser/mnist-cnn.js)
import { build } from 'esbuild';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fail, flag, ROOT, sizes } from './bundle.mjs';

const out = resolve(flag('--out', join(ROOT, 'dist', 'browser', 'mnist-cnn.js')));
try {
  const result = await build({
    entryPoints: [join(ROOT, 'src', 'browser', 'index.ts')],
    outfile: out,
    write: false,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2020'],
    minify: true,
    // TensorFlow.js is Apache-2.0: its notices travel with the bundle.
    legalComments: 'eof',
    logLevel: 'warning',
    metafile: true,
  });
  await mkdir(dirname(out), { recursive: true });
  for (const file of result.outputFiles) {
    const tmp = `${file.path}.tmp-${process.pid}`;
    await writeFile(tmp, file.contents);
    await rename(tmp, file.path);
  }
  console.log(`built the browser entry: ${sizes(result.metafile)}`);
} catch (err) {
  fail(`building the browser entry failed: ${err.message}`);
}

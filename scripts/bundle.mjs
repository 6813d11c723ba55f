// What the build scripts share: the project root, `--out DIR`, writing a folder beside its place
// and renaming it in (a server starting meanwhile never reads half of it), and the esbuild
// bundle of the draw-a-digit page (src/serve/page/), which build-page.mjs writes for
// `mnist-cnn serve` and build-site.mjs for a static host.
import { build } from 'esbuild';
import { copyFile, mkdir, readFile, rename, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const PAGE_SOURCE = join(ROOT, 'src', 'serve', 'page');

/** The value of `--name VALUE` on the command line, or `fallback`; exits with a message when the value is missing. */
export function flag(name, fallback) {
  const at = process.argv.indexOf(name);
  if (at < 0) return fallback;
  const value = process.argv[at + 1];
  if (!value || value.startsWith('--')) fail(`${name} needs a value`, 2);
  return value;
}

export function fail(message, code = 1) {
  console.error(`error: ${message}`);
  process.exit(code);
}

/** Fill a new folder at `out` through `write(staging)`: built beside it, then renamed into place. */
export async function writeFolder(out, write) {
  const target = resolve(out);
  const staging = `${target}.tmp-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  try {
    const result = await write(staging);
    await rm(target, { recursive: true, force: true });
    await rename(staging, target);
    return result;
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    throw err;
  }
}

/** "app.js 41 KiB, chunk-X.js 1380 KiB" from an esbuild metafile. */
export function sizes(metafile) {
  return Object.entries(metafile.outputs)
    .map(([file, { bytes }]) => `${file.split('/').pop()} ${(bytes / 1024).toFixed(0)} KiB`)
    .join(', ');
}

/**
 * The wasm backend's binaries the Train panel's workers fetch (from beside their scripts): with
 * SIMD, and without for browsers that lack it. The multi-threaded build is not used: each worker
 * runs one thread (src/backend/web-start.ts).
 */
const WASM_FILES = ['tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm.wasm'];

/**
 * The page into `dir`: app.js (the page), chunks fetched on first use (TensorFlow.js and the
 * model code for the in-browser mode, the "Inside the network" panel), the Train panel's
 * workers (train-worker.js, train-replica.js: entries of their own, started with
 * `new Worker(new URL('./train-worker.js', import.meta.url))`) and the .wasm files beside them,
 * index.html, style.css. The package's version is built in (MNIST_CNN_VERSION: a trained
 * model's metadata records it).
 */
export async function bundlePage(dir) {
  const { version } = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8'));
  const result = await build({
    entryPoints: {
      app: join(PAGE_SOURCE, 'main.ts'),
      'train-worker': join(PAGE_SOURCE, 'train-worker.ts'),
      'train-replica': join(PAGE_SOURCE, 'train-replica.ts'),
    },
    outdir: dir,
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
    define: { MNIST_CNN_VERSION: JSON.stringify(version) },
  });
  await copyFile(join(PAGE_SOURCE, 'index.html'), join(dir, 'index.html'));
  await copyFile(join(PAGE_SOURCE, 'style.css'), join(dir, 'style.css'));
  const wasmDir = dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json'));
  for (const file of WASM_FILES) await copyFile(join(wasmDir, 'dist', file), join(dir, file));
  return result.metafile;
}

/**
 * The package as a user gets it: `npm pack`, then `npm install` of the tarball into an empty
 * folder with none of this repo's settings (its .npmrc skips onnxruntime-node's download; a
 * user's install never sees that file). The install must succeed with no network beyond the npm
 * registry, and the installed CLI and library must read a digit with the shipped model.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve('.');
let dir = '';
let tarball = '';
const npm = (args: string[], cwd: string) =>
  spawnSync('npm', args, { cwd, encoding: 'utf8', env: { ...process.env, npm_config_yes: 'true' } });

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mnist-cnn-package-'));
  // --pack-destination keeps the tarball out of the repo; prepack builds dist/ first.
  const packed = execFileSync('npm', ['pack', '--pack-destination', dir, '--json'], { cwd: root, encoding: 'utf8' });
  tarball = join(dir, (JSON.parse(packed.slice(packed.indexOf('['))) as { filename: string }[])[0].filename);
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'user-app', private: true, type: 'module' }));
  await copyFile(join(root, 'test', 'fixtures', 'printed-7.png'), join(dir, 'seven.png'));
});
after(() => rm(dir, { recursive: true, force: true }));

test('the packed tarball holds the built code and the shipped model, and no tests or sources', () => {
  const listing = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n');
  for (const file of [
    'package/dist/cli/main.js',
    'package/dist/index.js',
    'package/dist/index.d.ts',
    'package/bin/mnist-cnn.js',
    'package/models/default/model.json',
    'package/models/default/weights.bin',
    'package/models/default/metadata.json',
    'package/models/default/release.json',
    'package/models/default/model.onnx',
    'package/dist/browser/mnist-cnn.js',
  ]) {
    assert.ok(listing.includes(file), `${file} is in the tarball`);
  }
  assert.equal(listing.filter((f) => f.startsWith('package/test/') || f.startsWith('package/src/')).length, 0);
});

test('npm install of the tarball into an empty folder succeeds, and its CLI reads a printed 7 with no run given', () => {
  const install = npm(['install', '--no-audit', '--no-fund', tarball], dir);
  assert.equal(install.status, 0, `npm install failed:\n${install.stderr}`);
  const predict = spawnSync(
    join(dir, 'node_modules', '.bin', 'mnist-cnn'),
    ['predict', 'seven.png', '--format', 'json'],
    { cwd: dir, encoding: 'utf8' },
  );
  assert.equal(predict.status, 0, predict.stderr);
  // (JSON lines: one object per input.)
  assert.equal(JSON.parse(predict.stdout).digit, 7, predict.stdout);
});

test('the installed library, imported by its package name, reads the same 7 in one call', () => {
  const script = `import { digitReader } from 'mnist-cnn';
const read = await digitReader();
const answer = await read('seven.png');
await read.close();
console.log(JSON.stringify(answer));`;
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: dir, encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  assert.equal(JSON.parse(result.stdout).digit, 7, result.stdout);
});

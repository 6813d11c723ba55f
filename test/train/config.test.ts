import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/program.js';
import { ARCHITECTURES } from '../../src/model/arch-names.js';
import { CONFIG_KEY_NAMES, configTableMarkdown, DEFAULT_CONFIG, PRESET_NAMES, PRESETS, resolveConfig, validateOverrides } from '../../src/train/config.js';
import { learningRateAt } from '../../src/train/schedule.js';
import { augmentImage } from '../../src/data/augment.js';
import { createRng } from '../../src/util/rng.js';

const writeConfig = (value: unknown): string => {
  const path = join(mkdtempSync(join(tmpdir(), 'mnist-cnn-config-')), 'train.json');
  writeFileSync(path, typeof value === 'string' ? value : JSON.stringify(value));
  return path;
};

test('defaults, then a preset, then a config file, then flags: each layer wins over the one before', () => {
  assert.deepEqual(resolveConfig(), DEFAULT_CONFIG);
  const file = writeConfig({ epochs: 7, lr: 0.01 });
  const config = resolveConfig({ preset: 'smoke', configFile: file, flags: { lr: 0.02 } });
  assert.equal(config.limit, PRESETS.smoke.limit); // from the preset
  assert.equal(config.epochs, 7); // the file over the preset
  assert.equal(config.lr, 0.02); // flags over the file
  assert.equal(config.batchSize, DEFAULT_CONFIG.batchSize); // untouched default
});

test('unknown keys, wrong types, values out of range and bad files are refused with a clear message', () => {
  const unknown = writeConfig({ epoch: 3 });
  assert.throws(() => resolveConfig({ configFile: unknown }), new RegExp(`${unknown.replace(/[\\/.]/g, '.')}: unknown config key 'epoch'`));
  assert.throws(() => resolveConfig({ configFile: writeConfig({ epochs: '3' }) }), /'epochs' must be a number, got "3"/);
  assert.throws(() => resolveConfig({ flags: { epochs: 0 } }), /flags: 'epochs' must be a whole number >= 1, got 0/);
  assert.throws(() => resolveConfig({ flags: { threads: 0 } }), /flags: 'threads' must be a whole number from 1 to 16, got 0/);
  assert.throws(() => resolveConfig({ flags: { optimizer: 'rmsprop' } }), /'optimizer' must be one of adam, sgd/);
  assert.throws(() => resolveConfig({ flags: { labelSmoothing: 1 } }), /'labelSmoothing' must be a number in \[0, 1\)/);
  assert.throws(() => resolveConfig({ configFile: writeConfig('{ not json') }), /train\.json: not valid JSON/);
  assert.throws(() => resolveConfig({ configFile: writeConfig([1, 2]) }), /must hold a JSON object/);
  assert.throws(() => resolveConfig({ configFile: '/nonexistent/train.json' }), /config file \/nonexistent\/train\.json does not exist/);
  assert.throws(() => resolveConfig({ preset: 'fastest' }), /unknown preset 'fastest'/);
  assert.equal(resolveConfig({ flags: { valCount: null } }).valCount, null);
});

test('one-cycle warms up from lr/25 to lr, then anneals to near zero; step and cosine decay', () => {
  const config = { ...DEFAULT_CONFIG, lr: 0.01, schedule: 'onecycle' as const, warmup: 0.2 };
  assert.ok(Math.abs(learningRateAt(0, 101, 10, config) - 0.01 / 25) < 1e-12);
  assert.ok(Math.abs(learningRateAt(20, 101, 10, config) - 0.01) < 1e-12);
  assert.ok(learningRateAt(100, 101, 10, config) < 1e-5);
  const step = { ...config, schedule: 'step' as const, gamma: 0.5, stepEpochs: 1 };
  assert.equal(learningRateAt(9, 100, 10, step), 0.01);
  assert.equal(learningRateAt(10, 100, 10, step), 0.005);
  const cosine = { ...config, schedule: 'cosine' as const };
  assert.equal(learningRateAt(0, 101, 10, cosine), 0.01);
  assert.ok(Math.abs(learningRateAt(50, 101, 10, cosine) - 0.005) < 1e-12);
});

/** augmentImage written the plain way: every output pixel mapped back and sampled on its own. */
function referenceAugment(src: Uint8Array, out: Float32Array, rng: ReturnType<typeof createRng>, b: { maxShift: number; maxRotation: number; maxScale: number }): void {
  const angle = ((rng.next() * 2 - 1) * b.maxRotation * Math.PI) / 180;
  const scale = 1 + (rng.next() * 2 - 1) * b.maxScale;
  const dx = (rng.next() * 2 - 1) * b.maxShift;
  const dy = (rng.next() * 2 - 1) * b.maxShift;
  const at = (x: number, y: number) => (x < 0 || y < 0 || x > 27 || y > 27 ? 0 : src[y * 28 + x]);
  for (let y = 0; y < 28; y++) {
    for (let x = 0; x < 28; x++) {
      const ox = x - 13.5 - dx;
      const oy = y - 13.5 - dy;
      const sx = (Math.cos(angle) * ox + Math.sin(angle) * oy) / scale + 13.5;
      const sy = (-Math.sin(angle) * ox + Math.cos(angle) * oy) / scale + 13.5;
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const fx = sx - x0;
      const fy = sy - y0;
      const top = at(x0, y0) * (1 - fx) + at(x0 + 1, y0) * fx;
      const bottom = at(x0, y0 + 1) * (1 - fx) + at(x0 + 1, y0 + 1) * fx;
      out[y * 28 + x] = top * (1 - fy) + bottom * fy;
    }
  }
}

test('augmentation matches a plain per-pixel affine warp with bilinear sampling, edges included', () => {
  const image = new Uint8Array(784).map((_, i) => (i * 37) % 256); // ink up to the borders
  const fast = new Float32Array(784);
  const plain = new Float32Array(784);
  const bounds = { maxShift: 3, maxRotation: 30, maxScale: 0.25 };
  for (let seed = 1; seed <= 50; seed++) {
    augmentImage(image, 0, fast, createRng(seed), bounds);
    referenceAugment(image, plain, createRng(seed), bounds);
    fast.forEach((v, i) => assert.ok(Math.abs(v - plain[i]) < 1e-3, `seed ${seed}, pixel ${i}: ${v} vs ${plain[i]}`));
  }
});

test('augmentation with zero bounds is the identity; a pure shift moves the ink by that many pixels', () => {
  const image = new Uint8Array(784);
  image[10 * 28 + 12] = 200;
  const out = new Float32Array(784);
  augmentImage(image, 0, out, createRng(1), { maxShift: 0, maxRotation: 0, maxScale: 0 });
  assert.deepEqual(Array.from(out), Array.from(image));
  // maxShift 2 draws a shift in [-2, 2]; the ink's centre moves by exactly the drawn amount, and stays whole.
  augmentImage(image, 0, out, createRng(3), { maxShift: 2, maxRotation: 0, maxScale: 0 });
  const total = out.reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(total - 200) < 1e-3, `ink preserved: ${total}`);
  let cx = 0;
  let cy = 0;
  out.forEach((v, i) => ((cx += (i % 28) * v), (cy += Math.floor(i / 28) * v)));
  assert.ok(Math.abs(cx / total - 12) <= 2 && Math.abs(cy / total - 10) <= 2);
});

test('the CLI rejects unknown flags and bad values with a clear message and exit code', () => {
  const run = (...args: string[]) => spawnSync(process.execPath, ['bin/mnist-cnn.js', ...args], { encoding: 'utf8' });
  const unknown = run('train', '--epoch', '3');
  assert.notEqual(unknown.status, 0);
  assert.match(unknown.stderr, /unknown option '--epoch'/);
  const notNumber = run('train', '--lr', 'fast');
  assert.notEqual(notNumber.status, 0);
  assert.match(notNumber.stderr, /'fast' is not a number/);
  const badFile = run('train', '--config', writeConfig({ bogus: 1 }));
  assert.equal(badFile.status, 2);
  assert.match(badFile.stderr, /error: .*train\.json: unknown config key 'bogus'/);
  const resumeWithFlags = run('train', '--resume', '/tmp/x', '--epochs', '3');
  assert.equal(resumeWithFlags.status, 2);
  assert.match(resumeWithFlags.stderr, /--resume continues a run with its saved config\.json/);
  const summary = run('train', '--summary', '--arch', 'lenet5');
  assert.equal(summary.status, 0);
  assert.match(summary.stdout, /Total params: 61706/);
  for (const command of ['data', 'train', 'start', 'evaluate', 'report', 'runs', 'compare', 'predict', 'serve']) {
    const help = run(command, '--help');
    assert.equal(help.status, 0, `${command} --help`);
    assert.match(help.stdout, new RegExp(`Usage: mnist-cnn ${command}`));
  }
});

// ---------------------------------------------------------------------------- the schema and the README

const readme = readFileSync('README.md', 'utf8');

/** The rows of the README table that follows `heading`: the first cell of each, without backticks. */
function firstColumn(heading: string): string[] {
  const at = readme.indexOf(heading);
  assert.ok(at >= 0, `README.md has "${heading}"`);
  const lines = readme.slice(at).split('\n').slice(1);
  const table = lines.slice(lines.findIndex((l) => l.startsWith('|')));
  return table.slice(0, table.findIndex((l) => !l.startsWith('|'))).slice(2).map((row) => row.split('|')[1].trim().replace(/`/g, ''));
}

test('the README\'s config table is the one the schema makes (npm run docs:config rewrites it)', () => {
  const block = readme.match(/<!-- config-table:start[^>]*-->\n([\s\S]*?)\n<!-- config-table:end -->/);
  assert.ok(block, 'README.md has the config-table block');
  assert.equal(block[1], configTableMarkdown());
  assert.deepEqual(firstColumn('<!-- config-table:start'), CONFIG_KEY_NAMES, 'every key documented, none extra');
});

test('every documented architecture and preset is what the schema accepts, and the other way round', () => {
  assert.deepEqual(firstColumn('The networks (`--arch`)').sort(), [...ARCHITECTURES].sort());
  const presetLine = readme.match(/Presets: (.*?)\.\n\nEvery key/s);
  assert.ok(presetLine, 'README.md names the presets');
  const documented = [...presetLine[1].matchAll(/`([a-z0-9]+)`\s+\(/g)].map((m) => m[1]);
  assert.deepEqual(documented.sort(), [...PRESET_NAMES].sort());
});

test('every choice the schema offers is accepted by the CLI, and each preset resolves to a valid config', async () => {
  for (const preset of PRESET_NAMES) {
    const config = resolveConfig({ preset });
    assert.deepEqual(validateOverrides(config, `preset ${preset}`), config);
  }
  // Through the real command line (in this process): --summary builds the network and exits.
  const logged: string[] = [];
  const log = console.log;
  console.log = (line: string) => void logged.push(line);
  try {
    for (const arch of ARCHITECTURES) {
      for (const preset of ['default', 'fast']) {
        process.exitCode = undefined;
        await main(['node', 'mnist-cnn', 'train', '--arch', arch, '--preset', preset, '--summary']);
        assert.equal(process.exitCode, undefined, `train --arch ${arch} --preset ${preset} --summary`);
      }
    }
  } finally {
    console.log = log;
  }
  assert.equal(logged.length, ARCHITECTURES.length * 2);
  assert.ok(logged.every((summary) => /Total params: \d+/.test(summary)));
});

test('a value outside the schema is refused with the key, the allowed values and where it came from', () => {
  assert.throws(() => resolveConfig({ flags: { arch: 'resnet' } }), /flags: 'arch' must be one of default, compact, lenet5, keras, got "resnet"/);
  assert.throws(() => resolveConfig({ flags: { augment: 'yes' } }), /flags: 'augment' must be a boolean, got "yes"/);
  assert.throws(() => resolveConfig({ flags: { lr: Number.NaN } }), /flags: 'lr' must be a number/);
  assert.throws(() => resolveConfig({ flags: { dataDir: 3 } }), /flags: 'dataDir' must be a string, got 3/);
  assert.throws(() => resolveConfig({ flags: { constructor: 1 } }), /unknown config key 'constructor'/);
  assert.throws(() => resolveConfig({ preset: 'toString' }), /unknown preset 'toString'/);
});

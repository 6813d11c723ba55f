import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { main } from '../../src/cli/program.js';
import { ARCHITECTURES } from '../../src/model/arch-names.js';
import { writeConfig } from '../helpers/config-files.js';
import {
  CONFIG_KEY_NAMES,
  configTableMarkdown,
  DEFAULT_CONFIG,
  PRESET_NAMES,
  PRESETS,
  validateOverrides,
} from '../../src/train/config.js';
import { resolveConfig } from '../../src/train/config-file.js';

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
  assert.throws(
    () => resolveConfig({ configFile: unknown }),
    new RegExp(`${unknown.replace(/[\\/.]/g, '.')}: unknown config key 'epoch'`),
  );
  assert.throws(
    () => resolveConfig({ configFile: writeConfig({ epochs: '3' }) }),
    /'epochs' must be a number, got "3"/,
  );
  assert.throws(() => resolveConfig({ flags: { epochs: 0 } }), /flags: 'epochs' must be a whole number >= 1, got 0/);
  assert.throws(
    () => resolveConfig({ flags: { threads: 0 } }),
    /flags: 'threads' must be a whole number from 1 to 16, got 0/,
  );
  assert.throws(() => resolveConfig({ flags: { optimizer: 'rmsprop' } }), /'optimizer' must be one of adam, sgd/);
  assert.throws(() => resolveConfig({ flags: { labelSmoothing: 1 } }), /'labelSmoothing' must be a number in \[0, 1\)/);
  assert.throws(() => resolveConfig({ configFile: writeConfig('{ not json') }), /train\.json: not valid JSON/);
  assert.throws(() => resolveConfig({ configFile: writeConfig([1, 2]) }), /must hold a JSON object/);
  assert.throws(
    () => resolveConfig({ configFile: '/nonexistent/train.json' }),
    /config file \/nonexistent\/train\.json does not exist/,
  );
  assert.throws(() => resolveConfig({ preset: 'fastest' }), /unknown preset 'fastest'/);
  assert.equal(resolveConfig({ flags: { valCount: null } }).valCount, null);
});

// ---------------------------------------------------------------------------- the schema and the docs

const doc = readFileSync('docs/training.md', 'utf8');

/** The rows of the table in docs/training.md that follows `heading`: the first cell of each, without backticks. */
function firstColumn(heading: string): string[] {
  const at = doc.indexOf(heading);
  assert.ok(at >= 0, `docs/training.md has "${heading}"`);
  const lines = doc.slice(at).split('\n').slice(1);
  const table = lines.slice(lines.findIndex((l) => l.startsWith('|')));
  return table
    .slice(
      0,
      table.findIndex((l) => !l.startsWith('|')),
    )
    .slice(2)
    .map((row) => row.split('|')[1].trim().replace(/`/g, ''));
}

test("docs/training.md's config table is the one the schema makes, every key and none extra (npm run docs rewrites it)", () => {
  const block = doc.match(/<!-- generated:config-table -->\n([\s\S]*?)\n<!-- \/generated:config-table -->/);
  assert.ok(block, 'docs/training.md has the config-table block');
  assert.equal(block[1], configTableMarkdown());
  assert.deepEqual(firstColumn('<!-- generated:config-table'), CONFIG_KEY_NAMES);
});

test('every documented architecture and preset is what the schema accepts, and the other way round', () => {
  assert.deepEqual(firstColumn('## The networks (`--arch`)').sort(), [...ARCHITECTURES].sort());
  const presetLine = doc.match(/Presets: (.*?)\.\n\nEvery key/s);
  assert.ok(presetLine, 'docs/training.md names the presets');
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
  assert.throws(
    () => resolveConfig({ flags: { arch: 'resnet' } }),
    /flags: 'arch' must be one of default, compact, lenet5, keras, got "resnet"/,
  );
  assert.throws(() => resolveConfig({ flags: { augment: 'yes' } }), /flags: 'augment' must be a boolean, got "yes"/);
  assert.throws(() => resolveConfig({ flags: { lr: Number.NaN } }), /flags: 'lr' must be a number/);
  assert.throws(() => resolveConfig({ flags: { dataDir: 3 } }), /flags: 'dataDir' must be a string, got 3/);
  assert.throws(() => resolveConfig({ flags: { constructor: 1 } }), /unknown config key 'constructor'/);
  assert.throws(() => resolveConfig({ preset: 'toString' }), /unknown preset 'toString'/);
});

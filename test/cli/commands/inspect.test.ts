import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import sharp from 'sharp';
import { registerInspect } from '../../../src/cli/commands/inspect.js';
import { loadMnist } from '../../../src/data/index.js';
import { quickRunDir } from '../../helpers/quick-run.js';
import { encodePng, invertGray, upscaleMnist } from '../../helpers/digit-pictures.js';

const runDir = await quickRunDir();
const data = await loadMnist();
const dir = await mkdtemp(join(tmpdir(), 'mnist-cnn-inspect-'));
after(() => rm(dir, { recursive: true, force: true }));

/** `mnist-cnn inspect ...` in this process (registered on its own program), with what it printed. */
async function inspect(...args: string[]): Promise<string> {
  const program = new Command().exitOverride();
  registerInspect(program);
  const printed: string[] = [];
  const log = console.log;
  console.log = (...parts: unknown[]) => void printed.push(parts.join(' '));
  try {
    await program.parseAsync(['inspect', runDir, ...args], { from: 'user' });
  } finally {
    console.log = log;
  }
  return printed.join('\n');
}

test("inspect writes every layer's maps for each image as PNGs and, with --json, their shapes and statistics", async () => {
  // Test image 0 is a 7: drawn dark on white and blown up, as people photograph digits.
  const seven = join(dir, 'seven.png');
  await writeFile(seven, await encodePng(invertGray(await upscaleMnist(data.test.images.subarray(0, 784), 140))));
  const two = join(dir, 'two.png');
  await writeFile(two, await encodePng(invertGray(await upscaleMnist(data.test.images.subarray(784, 2 * 784), 140))));
  const out = join(dir, 'maps');
  const report = JSON.parse(await inspect(seven, two, '--out', out, '--json'));
  assert.equal(report.images.length, 2);
  const [first, second] = report.images;
  assert.equal(first.digit, 7);
  assert.equal(second.digit, 2);
  assert.deepEqual(
    first.layers.map((l: { className: string }) => l.className),
    [
      'Conv2D',
      'MaxPooling2D',
      'Conv2D',
      'BatchNormalization',
      'Activation',
      'MaxPooling2D',
      'Flatten',
      'Dense',
      'BatchNormalization',
      'Activation',
      'Dense',
      'Activation',
    ],
  );
  const byName = new Map(first.layers.map((l: { name: string }) => [l.name, l]));
  const conv1 = first.layers[0];
  assert.deepEqual(conv1.shape, [28, 28, 32]);
  assert.ok(conv1.min >= 0 && conv1.zeros > 0.2, `conv 1 is a ReLU: min ${conv1.min}, zeros ${conv1.zeros}`);
  assert.ok(conv1.max > conv1.mean && conv1.std > 0);
  const probabilities = first.layers.at(-1);
  assert.deepEqual(probabilities.shape, [10]);
  assert.ok(Math.abs(probabilities.mean * 10 - 1) < 1e-4, 'the ten probabilities sum to 1');
  assert.ok(byName.size === 12);
  // One folder per image; the input and one PNG per layer in it, a grid of 8 maps to a row.
  assert.ok(existsSync(first.input) && first.input.startsWith(join(out, '0001-seven')));
  assert.ok(second.dir.endsWith('0002-two'));
  for (const layer of [...first.layers, ...second.layers]) assert.ok(existsSync(layer.png), layer.png);
  const meta = await sharp(conv1.png).metadata();
  assert.deepEqual([meta.width, meta.height], [(8 * 28 + 7) * 2, (4 * 28 + 3) * 2]);

  // Without --json: one line per image.
  const lines = (await inspect(seven, '--out', join(dir, 'plain'))).split('\n');
  assert.equal(lines.length, 1);
  assert.match(lines[0], /seven\.png: 7 \(\d+\.\d%\); 13 PNGs in .*0001-seven\//);
});

test('inspect names a file it cannot read', async () => {
  await assert.rejects(inspect(join(dir, 'missing.png'), '--out', join(dir, 'x')), /missing\.png: no such file/);
  const notImage = join(dir, 'notes.png');
  await writeFile(notImage, 'not pixels');
  await assert.rejects(inspect(notImage, '--out', join(dir, 'x')), /notes\.png/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { BrowserTrainFigures } from '../../bench/browser-train-table.js';
import { BLOCKS, docFiles, renderBlocks } from '../../scripts/docs-blocks.js';

test('every generated block of the README and docs is what its source makes now (npm run docs rewrites them)', () => {
  const files = docFiles();
  assert.ok(files.some((f) => f.file === 'README.md'));
  for (const { file, text, generated } of files)
    assert.equal(text, generated, `${file} has a stale generated block: run npm run docs`);
});

test('a block of an unknown name is refused, naming the file; a known one is filled in', () => {
  assert.throws(
    () => renderBlocks('<!-- generated:nope -->\nold\n<!-- /generated:nope -->', 'x.md'),
    /x\.md: unknown generated block 'nope'/,
  );
  const name = Object.keys(BLOCKS)[0];
  assert.equal(
    renderBlocks(`a\n<!-- generated:${name} -->\nold\n<!-- /generated:${name} -->\nb`, 'y.md'),
    `a\n<!-- generated:${name} -->\n${BLOCKS[name]()}\n<!-- /generated:${name} -->\nb`,
  );
});

test("docs/browser-training.md shows the last browserTrain bench run, with its CPU and the machine's load average", () => {
  const page = readFileSync('docs/browser-training.md', 'utf8');
  const { browserTrain } = JSON.parse(readFileSync('bench/results/browser-train.json', 'utf8')) as {
    browserTrain: BrowserTrainFigures;
  };
  const block = /<!-- generated:browser-training -->\n([\s\S]*?)<!-- \/generated:browser-training -->/.exec(page);
  assert.ok(block, 'docs/browser-training.md has no browser-training block');
  assert.ok(block[1].includes(browserTrain.machine.cpu), 'the table does not name the CPU');
  assert.ok(
    block[1].includes(`load average ${browserTrain.load.before.join(', ')}`),
    'the table does not give the load average',
  );
});

test('docs/int8.md and docs/limits.md take their measured figures from blocks made of bench/results/ (issue 25)', () => {
  const blocks = (file: string) =>
    [...readFileSync(file, 'utf8').matchAll(/<!-- generated:([a-z0-9-]+) -->/g)].map((m) => m[1]);
  assert.deepEqual(blocks('docs/int8.md'), ['int8-tables', 'int8-speed', 'int8-weights8', 'int8-decision']);
  assert.deepEqual(blocks('docs/limits.md'), [
    'abuse-issue24-measured',
    'abuse-issue24-table',
    'abuse-issue24-sets',
    'abuse-issue24-reading',
  ]);
  const int8 = JSON.parse(readFileSync('bench/results/int8.json', 'utf8')) as {
    int8: { speed: { bytes: Record<string, number> } };
  };
  assert.ok(
    readFileSync('docs/int8.md', 'utf8').includes(
      `${int8.int8.speed.bytes['onnx-int8'].toLocaleString('en-US')} bytes`,
    ),
    "docs/int8.md does not give the int8 file's size from bench/results/int8.json",
  );
});

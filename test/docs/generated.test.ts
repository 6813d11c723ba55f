import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BLOCKS, docFiles, renderBlocks } from '../../scripts/docs-blocks.js';

test('every generated block of the README and docs is what its source makes now (npm run docs rewrites them)', () => {
  const files = docFiles();
  assert.ok(files.some((f) => f.file === 'README.md'));
  for (const { file, text, generated } of files) assert.equal(text, generated, `${file} has a stale generated block: run npm run docs`);
});

test('a block of an unknown name is refused, naming the file; a known one is filled in', () => {
  assert.throws(() => renderBlocks('<!-- generated:nope -->\nold\n<!-- /generated:nope -->', 'x.md'), /x\.md: unknown generated block 'nope'/);
  const name = Object.keys(BLOCKS)[0];
  assert.equal(renderBlocks(`a\n<!-- generated:${name} -->\nold\n<!-- /generated:${name} -->\nb`, 'y.md'), `a\n<!-- generated:${name} -->\n${BLOCKS[name]()}\n<!-- /generated:${name} -->\nb`);
});

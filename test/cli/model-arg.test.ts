import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isModelArgument, modelAndInputs, modelOf } from '../../src/cli/model-arg.js';

const dir = await mkdtemp(join(tmpdir(), 'mnist-cnn-model-arg-'));
after(() => rm(dir, { recursive: true, force: true }));
const run = join(dir, 'run');
const photos = join(dir, 'photos');
await mkdir(run);
await mkdir(photos);
await writeFile(join(run, 'metadata.json'), '{}');

test('a run folder (it has metadata.json) or a shipped model name is a model; a folder of pictures or a file is not', () => {
  assert.equal(isModelArgument(run), true);
  assert.equal(isModelArgument('default'), true);
  assert.equal(isModelArgument(photos), false);
  assert.equal(isModelArgument(join(run, 'metadata.json')), false);
  assert.equal(isModelArgument('seven.png'), false);
});

test('predict and inspect: the shipped model unless --model or a first argument names one', () => {
  assert.deepEqual(modelAndInputs(['a.png', photos], undefined, 'input'), {
    model: 'default',
    inputs: ['a.png', photos],
  });
  assert.deepEqual(modelAndInputs([run, 'a.png'], undefined, 'input'), { model: run, inputs: ['a.png'] });
  assert.deepEqual(modelAndInputs(['default', 'a.png'], undefined, 'input'), { model: 'default', inputs: ['a.png'] });
  // With --model, every argument is an input, even a run folder.
  assert.deepEqual(modelAndInputs([run, 'a.png'], 'default', 'input'), { model: 'default', inputs: [run, 'a.png'] });
  assert.throws(() => modelAndInputs([run], undefined, 'image'), /no image given: name at least one after the model/);
});

test('serve, evaluate, export: the argument or --model, not both; else the shipped model', () => {
  assert.equal(modelOf(undefined, undefined), 'default');
  assert.equal(modelOf(run, undefined), run);
  assert.equal(modelOf(undefined, run), run);
  assert.throws(() => modelOf(run, 'default'), /the model is given twice/);
});

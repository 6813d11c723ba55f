/**
 * The loop from the command line: `predict --label 7 --corrections DIR` files pictures as
 * corrections, `finetune --data DIR` makes a new run from them, and `predict` reads with it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { quickRunDir } from '../../helpers/quick-run.js';
import { writerPopulation } from '../../helpers/hand-writers.js';
import { removeTempDirs, tempDir } from '../../helpers/run-fixtures.js';

function cli(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    encoding: 'utf8',
    timeout: 600_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

let base: string;
let work: string;
/** Picture files of each digit: pictures/<digit>/<n>.png (pad drawings) or .jpg (photos of paper). */
let pictures: string;

before(async () => {
  base = await quickRunDir();
  work = await tempDir('mnist-cli-finetune-');
  pictures = join(work, 'pictures');
  for (const s of writerPopulation({ seed: 11, writers: 3, perDigit: 2, keepPictures: true }).map((s, i) => ({
    ...s,
    i,
  }))) {
    await mkdir(join(pictures, String(s.label)), { recursive: true });
    const image = sharp(s.picture.data, {
      raw: { width: s.picture.width, height: s.picture.height, channels: s.picture.channels },
    });
    const jpeg = s.picture.channels === 1;
    await writeFile(
      join(pictures, String(s.label), `${s.i}.${jpeg ? 'jpg' : 'png'}`),
      await (jpeg ? image.jpeg() : image.png()).toBuffer(),
    );
  }
});
after(removeTempDirs);

test('predict --label 7 --corrections DIR files each picture read (28x28 under 7/, the file itself under drawn/7/); again, nothing new', async () => {
  const corrections = join(work, 'one');
  const sevens = join(pictures, '7');
  const first = cli('predict', base, sevens, '--label', '7', '--corrections', corrections);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stderr, /filed 6 correction\(s\) as 7 into /);
  const names = (await readdir(join(corrections, '7'))).sort();
  assert.equal(names.length, 6);
  const drawn = (await readdir(join(corrections, 'drawn', '7'))).sort();
  assert.deepEqual(drawn.map((n) => n.replace(/\.(png|jpg)$/, '.png')).sort(), names);
  const again = cli('predict', base, sevens, '--label', '7', '--corrections', corrections);
  assert.match(again.stderr, /filed 0 correction\(s\) as 7 into .* \(6 already there\)/);
  const alone = cli('predict', base, sevens, '--label', '7');
  assert.equal(alone.code, 2);
  assert.match(alone.stderr, /--label and --corrections go together/);
});

test('finetune --data DIR: a new run from the corrections that predict then reads with; its metadata names its base', async () => {
  const corrections = join(work, 'all');
  for (let digit = 0; digit < 10; digit++) {
    const filed = cli(
      'predict',
      base,
      join(pictures, String(digit)),
      '--label',
      String(digit),
      '--corrections',
      corrections,
      '--format',
      'json',
    );
    assert.equal(filed.code, 0, filed.stderr);
  }
  const out = join(work, 'tuned');
  const tuned = cli('finetune', base, '--data', corrections, '--out', out, '--rehearsal', '1000', '--json');
  assert.equal(tuned.code, 0, tuned.stderr);
  const { run, finetune } = JSON.parse(tuned.stdout.trim().split('\n').at(-1)!);
  assert.equal(run, out);
  assert.equal(finetune.base.dir, realpathSync(base));
  assert.equal(finetune.holdout.count, 12);
  assert.deepEqual(finetune.data.perClass, [...new Array(10).fill(6), 0]);
  const read = cli('predict', out, join(pictures, '3'), '--format', 'json');
  assert.equal(read.code, 0, read.stderr);
  assert.equal(
    read.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line)).length,
    6,
  );
  const human = cli('finetune', base, '--data', join(work, 'nowhere'), '--out', join(work, 'x'));
  assert.equal(human.code, 2);
  assert.match(human.stderr, /nowhere: cannot read the folder/);
});

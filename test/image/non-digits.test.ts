import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeImage } from '../../src/image/decode.js';
import {
  DIGIT_LIKE_LETTERS,
  NON_DIGIT_CATEGORIES,
  NON_DIGIT_FONTS,
  NON_DIGIT_LETTERS,
  ROUND_LETTERS,
  drawNonDigit,
  drawNonDigitInk,
  nonDigitRng,
  nonDigitSet,
  writeNonDigitPictures,
} from '../../src/image/non-digits.js';
import { handRoundLetters } from '../../src/image/hand-glyphs.js';
import { connectedComponents } from '../../src/image/pixel-ops.js';
import { readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';

test('the same split, seed and number give the same bytes; another seed or split other ones', async () => {
  for (const category of NON_DIGIT_CATEGORIES) {
    const a = await drawNonDigit(category, 'train', nonDigitRng('train', 1, category, 3));
    const b = await drawNonDigit(category, 'train', nonDigitRng('train', 1, category, 3));
    assert.deepEqual(a, b, category);
    const c = await drawNonDigit(category, 'train', nonDigitRng('train', 2, category, 3));
    const d = await drawNonDigit(category, 'test', nonDigitRng('test', 1, category, 3));
    assert.notDeepEqual(a.data, c.data, `${category}: seed`);
    assert.notDeepEqual(a.data, d.data, `${category}: split`);
  }
  const set1 = await nonDigitSet({ split: 'test', perCategory: 2, seed: 5 });
  const set2 = await nonDigitSet({ split: 'test', perCategory: 2, seed: 5 });
  assert.deepEqual(set1, set2);
  assert.equal(set1.length, 2 * NON_DIGIT_CATEGORIES.length);
  assert.ok(set1.every((s) => s.pixels.length === 784));
});

test("the test split uses none of the train split's fonts, and no letter that reads as a digit", () => {
  const key = (f: { family: string; weight: string; style: string }) => `${f.family}/${f.weight}/${f.style}`;
  const train = new Set(NON_DIGIT_FONTS.train.map(key));
  assert.ok(NON_DIGIT_FONTS.test.every((f) => !train.has(key(f))));
  for (const digitLike of 'oOlIiSsZzBgqbGDTt17') assert.ok(!NON_DIGIT_LETTERS.includes(digitLike), digitLike);
  // Round letters: open ones only (a printed C or c was read as 0), none of the digit-like letters, printed or drawn.
  for (const letters of [ROUND_LETTERS, ...handRoundLetters('train'), ...handRoundLetters('test')]) {
    for (const letter of letters) assert.ok(!(DIGIT_LIKE_LETTERS + '0123456789').includes(letter), letter);
  }
  for (const letter of 'CcGUunr') assert.ok(ROUND_LETTERS.includes(letter), letter);
  for (const letter of 'OoQDIlZzSsbBqg') assert.ok(DIGIT_LIKE_LETTERS.includes(letter), letter);
});

test('the new categories draw what they say: several strokes or turns, spread over much of their box, that reach the model', async () => {
  for (const split of ['train', 'test'] as const) {
    for (let n = 0; n < 10; n++) {
      for (const category of ['zigzag', 'spiral', 'loops', 'crossed-out', 'overlap', 'round-letter'] as const) {
        const canvas = await drawNonDigitInk(category, split, nonDigitRng(split, 1, category, n));
        const inked = canvas.ink.filter((v) => v > 0.5).length;
        assert.ok(inked > 0, `${split} ${category} ${n} has ink`);
      }
      // A zigzag's strokes go back and forth: ink at many heights or widths, not one blob.
      const zigzag = await drawNonDigitInk('zigzag', split, nonDigitRng(split, 1, 'zigzag', n));
      const rows = new Set<number>();
      const columns = new Set<number>();
      zigzag.ink.forEach((v, i) => {
        if (v <= 0.5) return;
        rows.add(Math.floor(i / zigzag.width));
        columns.add(i % zigzag.width);
      });
      assert.ok(
        rows.size > 0.3 * zigzag.height || columns.size > 0.3 * zigzag.width,
        `zigzag ${split} ${n}: ${rows.size} rows, ${columns.size} columns`,
      );
    }
  }
  const set = await nonDigitSet({
    split: 'test',
    perCategory: 20,
    categories: ['zigzag', 'spiral', 'loops', 'crossed-out', 'overlap', 'round-letter'],
  });
  for (const category of ['zigzag', 'spiral', 'loops', 'crossed-out', 'overlap', 'round-letter'] as const) {
    const reached = set.filter((s) => s.category === category && !s.reason);
    assert.ok(reached.length >= 15, `${category}: most reach the model (${reached.length} of 20)`);
  }
});

/** Ink (coverage > 0.5) of a category's picture n, as components. */
async function inkOf(category: (typeof NON_DIGIT_CATEGORIES)[number], n: number) {
  const canvas = await drawNonDigitInk(category, 'test', nonDigitRng('test', 1, category, n));
  const plane = { data: canvas.ink, width: canvas.width, height: canvas.height };
  const inked = canvas.ink.filter((v) => v > 0.5).length;
  return { canvas, inked, components: connectedComponents(plane, 0.5).components };
}

test('each category draws what it says', async () => {
  for (let n = 0; n < 12; n++) {
    const blank = await inkOf('blank', n);
    assert.equal(blank.inked, 0, 'blank paper has no ink (at most a faint smudge)');
    assert.ok(Math.max(...blank.canvas.ink) <= 0.1);

    const dot = await inkOf('dot', n);
    assert.equal(dot.components.length, 1, 'one dot');
    const [c] = dot.components;
    const [w, h] = [c.maxX - c.minX + 1, c.maxY - c.minY + 1];
    assert.ok(Math.max(w, h) / Math.min(w, h) < 2, `a round dot, ${w}x${h}`);
    assert.ok(c.area >= 0.5 * w * h, 'filled');

    for (const category of ['scribble', 'hatching', 'letter', 'shape', 'strokes', 'noise'] as const) {
      const { inked } = await inkOf(category, n);
      assert.ok(inked > 0, `${category} ${n} has ink`);
    }
    const strokes = await inkOf('strokes', n);
    const longest = Math.max(...strokes.components.map((s) => Math.max(s.maxX - s.minX, s.maxY - s.minY) + 1));
    assert.ok(
      longest < Math.max(strokes.canvas.width, strokes.canvas.height),
      'strokes stay short of crossing the sheet',
    );
    const hatching = await inkOf('hatching', n);
    assert.ok(
      hatching.inked >= 4 * Math.min(hatching.canvas.width, hatching.canvas.height) * 0.3,
      'hatching: several lines across part of the sheet',
    );
  }
});

test('through the preprocessing, blank paper is blank and the rest reaches the model as ink', async () => {
  const set = await nonDigitSet({ split: 'test', perCategory: 20 });
  const blanks = set.filter((s) => s.category === 'blank');
  assert.ok(
    blanks.filter((s) => s.reason === 'blank').length >= 18,
    'blank paper is found blank (a steep gradient may not be)',
  );
  for (const category of ['dot', 'scribble', 'letter', 'shape'] as const) {
    const reached = set.filter((s) => s.category === category && !s.reason);
    assert.ok(reached.length >= 15, `${category}: most reach the model (${reached.length} of 20)`);
    assert.ok(
      reached.every((s) => s.pixels.some((v) => v > 128)),
      `${category}: with ink in the 28x28 input`,
    );
  }
});

test('writeNonDigitPictures writes decodable PNGs, one folder per category', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mnist-cnn-non-digits-'));
  try {
    assert.equal(await writeNonDigitPictures(dir, { split: 'test', perCategory: 2 }), 2 * NON_DIGIT_CATEGORIES.length);
    assert.deepEqual((await readdir(dir)).sort(), [...NON_DIGIT_CATEGORIES].sort());
    const file = join(dir, 'dot', '0001.png');
    const decoded = await decodeImage(new Uint8Array(await readFile(file)), file);
    const drawn = await drawNonDigit('dot', 'test', nonDigitRng('test', 1, 'dot', 1));
    assert.equal(decoded.width, drawn.width);
    assert.equal(decoded.height, drawn.height);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('drawn on worker threads, a set is byte for byte the one drawn on this thread, in the same order', async () => {
  // 5 categories x 3 pictures: 15, dealt unevenly over 2 and 4 threads; 7 threads for 3 pictures use 3.
  const options = {
    split: 'test',
    perCategory: 3,
    seed: 5,
    categories: ['blank', 'dot', 'letter', 'noise', 'shape'],
  } as const;
  const one = await nonDigitSet({ ...options, threads: 1 });
  assert.equal(one.length, 15);
  assert.ok(
    one.some((s) => s.reason) && one.some((s) => !s.reason),
    'the set has samples with and without a reason, so reasons are compared',
  );
  for (const threads of [2, 4])
    assert.deepStrictEqual(await nonDigitSet({ ...options, threads }), one, `${threads} threads`);
  const small = { split: 'train', perCategory: 3, seed: 2, categories: ['scribble'] } as const;
  assert.deepStrictEqual(await nonDigitSet({ ...small, threads: 7 }), await nonDigitSet({ ...small, threads: 1 }));
  assert.deepStrictEqual(await nonDigitSet({ ...options, perCategory: 0, threads: 2 }), []);
  await assert.rejects(nonDigitSet({ ...options, threads: 0 }), /threads must be a whole number >= 1, got 0/);
});

test('a failing drawing thread fails the set, and no thread is left running to keep the process alive', async () => {
  // Thread 0 fails on its first picture (a category that does not exist); thread 1 has 20,000
  // dots to draw (minutes): unless it is ended, the child process does not exit by itself.
  const dir = await mkdtemp(join(tmpdir(), 'mnist-cnn-non-digit-threads-'));
  try {
    const script = join(dir, 'fail.mts');
    const module = pathToFileURL(join(import.meta.dirname, '../../src/image/non-digits.ts')).href;
    await writeFile(
      script,
      `import { nonDigitSet } from ${JSON.stringify(module)};\n` +
        `const categories = ['no such category', ...Array(40000).fill('dot')];\n` +
        `await nonDigitSet({ split: 'train', perCategory: 1, categories, threads: 2 }).then(() => console.log('drawn'), (err) => console.log(err.message.split('\\n')[0]));\n`,
    );
    const child = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(child.signal, null, `the process did not exit by itself: ${child.stderr}`);
    assert.equal(child.status, 0, child.stderr);
    assert.match(child.stdout, /^a non-digit drawing thread failed: TypeError: .*not a function/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('built, the set is drawn on the built worker (dist/image/non-digit-worker.js) with the same bytes', async (t) => {
  const built = new URL('../../dist/image/non-digits.js', import.meta.url);
  if (!existsSync(built)) return t.skip('dist/ is not built: run `npm run build` (npm test does)');
  const { nonDigitSet: builtSet } = (await import(built.href)) as typeof import('../../src/image/non-digits.js');
  const options = { split: 'train', perCategory: 2, seed: 3 } as const;
  assert.deepStrictEqual(await builtSet({ ...options, threads: 2 }), await nonDigitSet({ ...options, threads: 1 }));
});

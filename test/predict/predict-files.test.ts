import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadMnist } from '../../src/data/load.js';
import { predictFiles } from '../../src/predict/predict-files.js';
import { Predictor } from '../../src/predict/predictor.js';
import { encodePng } from '../helpers/digit-pictures.js';
import { thirtyByteWebp } from '../serve/fixtures/bombs.js';
import { makeRunDir, removeTempDirs, startBackend, tempDir } from '../helpers/run-fixtures.js';

let predictor: Predictor;
let png: Uint8Array;
before(async () => {
  await startBackend();
  predictor = await Predictor.load(await makeRunDir({ history: false }));
  const pixels = (await loadMnist()).test.images.subarray(0, 784);
  png = await encodePng({ data: pixels, width: 28, height: 28, channels: 1 });
});
after(async () => {
  await predictor.close();
  await removeTempDirs();
});

const mkfifo = (path: string) => spawnSync('mkfifo', [path]).status === 0;

test('inside folders: links are followed (loops searched once), and every entry not read is reported with its reason', async (t) => {
  const root = await tempDir('mnist-cnn-predict-files-');
  const photos = join(root, 'photos');
  const elsewhere = join(root, 'elsewhere');
  await mkdir(join(photos, 'nested'), { recursive: true });
  await mkdir(elsewhere);
  await writeFile(join(photos, 'a.png'), png);
  await writeFile(join(photos, 'nested', 'b.png'), png);
  await writeFile(join(elsewhere, 'c.png'), png);
  await writeFile(join(photos, 'notes.txt'), 'not a picture');
  await writeFile(join(photos, '.hidden.png'), png);
  await symlink(join(elsewhere, 'c.png'), join(photos, 'link-to-c.png'));
  await symlink(elsewhere, join(photos, 'link-to-elsewhere'));
  await symlink(photos, join(photos, 'nested', 'loop'));
  await symlink(join(root, 'gone.png'), join(photos, 'dangling.png'));
  const fifo = mkfifo(join(photos, 'pipe.png'));
  if (!fifo) t.diagnostic('mkfifo is not available: the FIFO case is not checked');

  const skipped: string[] = [];
  const rows = await predictFiles(predictor, [photos], {
    onSkip: (path, reason) => skipped.push(`${path.slice(photos.length + 1)}: ${reason}`),
  });
  assert.deepEqual(
    rows.map((r) => r.file.slice(photos.length + 1)),
    ['a.png', 'link-to-c.png', 'link-to-elsewhere/c.png', 'nested/b.png'],
  );
  assert.ok(rows.every((r) => r.prediction && !r.error));
  assert.deepEqual(
    skipped.sort(),
    [
      '.hidden.png: a hidden file',
      `dangling.png: a dangling symbolic link (to ${join(root, 'gone.png')})`,
      `nested/loop: already searched as ${photos} (a symbolic link loop, or a folder linked twice)`,
      'notes.txt: not an image, IDX image file or CSV (by its name)',
      ...(fifo ? ['pipe.png: a FIFO: not opened'] : []),
    ].sort(),
  );
});

test('named outright, a FIFO or a dangling link is an error row, never opened (a FIFO would block for good)', async (t) => {
  const root = await tempDir('mnist-cnn-predict-files-');
  await symlink(join(root, 'gone.png'), join(root, 'dangling.png'));
  await writeFile(join(root, 'real.png'), png);
  await symlink(join(root, 'real.png'), join(root, 'link.png'));
  const paths = [join(root, 'dangling.png'), join(root, 'link.png'), join(root, 'missing.png')];
  if (mkfifo(join(root, 'pipe.png'))) paths.push(join(root, 'pipe.png'));
  else t.diagnostic('mkfifo is not available: the FIFO case is not checked');
  const rows = await predictFiles(predictor, paths);
  assert.deepEqual(
    rows.map((r) => r.error ?? 'read'),
    [
      `a dangling symbolic link (to ${join(root, 'gone.png')})`,
      'read',
      'file not found',
      ...(paths.length > 3 ? ['a FIFO, not a regular file: not opened'] : []),
    ],
  );
});

test('a header cut short (the 30-byte WebP of issue #24, a PNG cut in its size) is an error row naming the problem, and the files after it are read', async () => {
  const root = await tempDir('mnist-cnn-predict-files-');
  await writeFile(join(root, 'w.webp'), thirtyByteWebp());
  await writeFile(join(root, 'cut.png'), png.subarray(0, 20));
  await writeFile(join(root, 'other.png'), png);
  const rows = await predictFiles(
    predictor,
    ['w.webp', 'cut.png', 'other.png'].map((name) => join(root, name)),
  );
  assert.match(rows[0].error ?? '', /^cannot be read as an image \(truncated or corrupt/);
  assert.equal(rows[1].error, 'is cut short or damaged: its PNG height needs 24 bytes, the file has 20');
  assert.equal(rows[2].error, undefined);
  assert.equal(typeof rows[2].prediction?.probabilities[0], 'number', 'other.png is read');
});

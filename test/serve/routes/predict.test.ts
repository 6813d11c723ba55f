/**
 * The image routes under abuse (issues #15, #24): decompression bombs on every route that takes
 * image files, content types that lie, the pixel limits of a picture and of a request, multipart
 * forms past their limits, a header cut short, and requests given up while their pictures decode.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { startServer, type RunningServer } from '../../../src/serve/server.js';
import { MAX_BATCH } from '../../../src/serve/routes/predict.js';
import { encodeBmp24 } from '../../../src/image/bmp.js';
import { quickRunDir } from '../../helpers/quick-run.js';
import { picturePoolLoad } from '../../../src/image/picture-pool.js';
import { greyPng, headerBombs, oneBitBmp, thirtyByteWebp, type Bomb } from '../fixtures/bombs.js';
import { captureStderr, head, multipartBody, rawRequest, type FormPart } from '../fixtures/http.js';

let server: RunningServer;
let seven: Uint8Array<ArrayBuffer>;
let bombs: Bomb[];

const printed = (digit: string, side = 200) =>
  sharp(
    Buffer.from(
      `<svg xmlns="http://www.w3.org/2000/svg" width="${side}" height="${side}"><rect width="${side}" height="${side}" fill="white"/><text x="${side / 2}" y="${side * 0.86}" font-size="${side * 0.9}" font-family="DejaVu Sans" text-anchor="middle">${digit}</text></svg>`,
    ),
  );

before(async () => {
  server = await startServer({ runDir: await quickRunDir(), port: 0, modelName: 'mnist' });
  seven = new Uint8Array(await printed('7').png().toBuffer());
  bombs = await headerBombs();
});
after(() => server.close());

const base64 = (data: Uint8Array) => Buffer.from(data).toString('base64');
const post = (path: string, body: BodyInit, type?: string, signal?: AbortSignal) =>
  fetch(server.url + path, { method: 'POST', body, headers: type ? { 'content-type': type } : {}, signal });
const postJson = (path: string, value: unknown) => post(path, JSON.stringify(value), 'application/json');
const form = (parts: FormPart[]) => ({
  body: new Uint8Array(multipartBody(parts)),
  type: 'multipart/form-data; boundary=XBOUNDARYX',
});
const postForm = (path: string, parts: FormPart[]) => {
  const { body, type } = form(parts);
  return post(path, body, type);
};

async function expectError(response: Response, status: number, code: string, message?: RegExp): Promise<void> {
  const text = await response.text();
  assert.equal(response.status, status, text);
  const body = JSON.parse(text);
  assert.equal(body.error.code, code, text);
  if (message) assert.match(body.error.message, message);
  assert.doesNotMatch(text, /at .*\.(ts|js):\d+/, 'no stack trace');
}

test('bombs are refused from their first bytes and header on every route that takes images (413 or 415), and nothing is logged', async () => {
  const { stderr } = await captureStderr(async () => {
    for (const bomb of bombs) {
      const code =
        bomb.status === 413
          ? 'image_too_large'
          : bomb.name === 'svg-blur-as-png'
            ? 'content_type_mismatch'
            : 'unsupported_image_format';
      const what = bomb.status === 413 ? new RegExp(`is ${bomb.width}x${bomb.height} pixels`) : /SVG|GIF|TIFF/;
      // The raw body, with its own type where the API takes the format.
      if (bomb.type !== 'application/octet-stream')
        await expectError(await post('/v1/predict', bomb.bytes, bomb.type), bomb.status, code, what);
      const generic = bomb.name === 'svg-blur-as-png' ? 'unsupported_image_format' : code;
      // A multipart file sent as application/octet-stream: the bytes alone decide.
      await expectError(
        await postForm('/v1/predict', [
          { name: 'file', filename: 'x', type: 'application/octet-stream', data: bomb.bytes },
        ]),
        bomb.status,
        generic,
        what,
      );
      await expectError(await postJson('/v1/predict', { image: base64(bomb.bytes) }), bomb.status, generic, what);
      await expectError(
        await postJson('/v1/predict/batch', { items: [{ image: base64(seven) }, { image: base64(bomb.bytes) }] }),
        bomb.status,
        generic,
        /items\[1\]\.image/,
      );
      await expectError(
        await postForm('/v1/predict/batch', [
          { name: 'a', filename: 'a.png', type: 'image/png', data: seven },
          { name: 'b', filename: 'b', data: bomb.bytes },
        ]),
        bomb.status,
        generic,
      );
      const v2 = await postJson('/v2/models/mnist/infer', {
        inputs: [{ name: 'image', datatype: 'BYTES', shape: [1], data: [base64(bomb.bytes)] }],
      });
      assert.equal(v2.status, bomb.status, `${bomb.name} on /v2: ${await v2.clone().text()}`);
      assert.match((await v2.json()).error, what);
    }
    // And the server still answers.
    assert.equal((await post('/v1/predict', seven, 'image/png')).status, 200);
  });
  assert.equal(stderr, '', 'no line logged for a refused input');
});

test('the bytes must be what the content type says, and a format the API reads (PNG, JPEG, WebP, BMP)', async () => {
  const jpeg = new Uint8Array(await printed('7').jpeg().toBuffer());
  await expectError(
    await post('/v1/predict', jpeg, 'image/png'),
    415,
    'content_type_mismatch',
    /the request body is sent as image\/png but its bytes are JPEG; send it as image\/jpeg/,
  );
  await expectError(await post('/v1/predict', seven, 'image/webp'), 415, 'content_type_mismatch', /bytes are PNG/);
  await expectError(
    await postJson('/v1/predict', { image: `data:image/webp;base64,${base64(seven)}` }),
    415,
    'content_type_mismatch',
    /image is sent as image\/webp but its bytes are PNG/,
  );
  await expectError(
    await postForm('/v1/predict', [{ name: 'file', filename: 'seven.gif', type: 'image/gif', data: seven }]),
    415,
    'unsupported_image_format',
    /is sent as image\/gif: send PNG, JPEG, WebP or BMP/,
  );
  await expectError(
    await post('/v1/predict', 'hello', 'image/svg+xml'),
    415,
    'unsupported_media_type',
    /image\/svg\+xml is not accepted/,
  );
  // Right or generic types are read; BMP (our own reader) too.
  const read = async (response: Response) => {
    assert.equal(response.status, 200, await response.clone().text());
    assert.equal((await response.json()).digit, 7);
  };
  await read(await post('/v1/predict', jpeg, 'image/jpeg'));
  await read(
    await postForm('/v1/predict', [{ name: 'file', filename: 'seven', type: 'application/octet-stream', data: seven }]),
  );
  await read(await postJson('/v1/predict', { image: `data:image/png;base64,${base64(seven)}` }));
  const raw = await printed('7').raw().toBuffer({ resolveWithObject: true });
  const bmp = encodeBmp24({
    data: new Uint8Array(raw.data),
    width: raw.info.width,
    height: raw.info.height,
    channels: raw.info.channels,
  });
  await read(await post('/v1/predict', new Uint8Array(bmp), 'image/bmp'));
});

test("the pixel limit is the server's (serve --max-pixels); at the limit a picture is read", async () => {
  const small = await startServer({ runDir: server.predictor.dir, port: 0, maxPixels: 150 * 150 });
  try {
    const response = await fetch(`${small.url}/v1/predict`, {
      method: 'POST',
      body: seven,
      headers: { 'content-type': 'image/png' },
    });
    await expectError(
      response,
      413,
      'image_too_large',
      /the request body: is 200x200 pixels \(40000 pixels\), over the limit of 22500 pixels/,
    );
    const fits = new Uint8Array(await printed('7', 150).png().toBuffer());
    assert.equal(
      (await fetch(`${small.url}/v1/predict`, { method: 'POST', body: fits, headers: { 'content-type': 'image/png' } }))
        .status,
      200,
    );
  } finally {
    await small.close();
  }
});

test('multipart: the body limit caps the whole form, with or without a Content-Length', async () => {
  const limited = await startServer({ runDir: server.predictor.dir, port: 0, bodyLimit: 100_000 });
  try {
    // Three files of 40 KB: each under the limit, together over it.
    const files = [0, 1, 2].map((i) => ({
      name: `f${i}`,
      filename: `${i}.png`,
      type: 'image/png',
      data: new Uint8Array(40_000).fill(7),
    }));
    const { body, type } = form(files);
    const sized = await fetch(`${limited.url}/v1/predict/batch`, {
      method: 'POST',
      body,
      headers: { 'content-type': type },
    });
    await expectError(sized, 413, 'body_too_large', /larger than the limit of 100000 bytes/);
    // Chunked (no Content-Length): the files are counted as they arrive.
    const stream = new ReadableStream({
      start(controller) {
        for (let at = 0; at < body.length; at += 16_384) controller.enqueue(body.subarray(at, at + 16_384));
        controller.close();
      },
    });
    const chunked = await fetch(`${limited.url}/v1/predict/batch`, {
      method: 'POST',
      body: stream,
      headers: { 'content-type': type },
      duplex: 'half',
    } as RequestInit);
    await expectError(chunked, 413, 'body_too_large', /the files add up to more than the body limit of 100000 bytes/);
  } finally {
    await limited.close();
  }
});

test('multipart: one file to /v1/predict, at most 256 to the batch, 10 text fields; malformed forms are 400s', async () => {
  const file = (name: string): FormPart => ({ name, filename: `${name}.png`, type: 'image/png', data: seven });
  await expectError(
    await postForm('/v1/predict', [file('a'), file('b')]),
    400,
    'too_many_files',
    /more than one file: \/v1\/predict reads one \(send several to \/v1\/predict\/batch\)/,
  );
  const tiny = new Uint8Array(
    await sharp({ create: { width: 4, height: 4, channels: 3, background: '#000' } })
      .png()
      .toBuffer(),
  );
  const many = Array.from({ length: MAX_BATCH + 1 }, (_, i) => ({
    name: `f${i}`,
    filename: `${i}.png`,
    type: 'image/png',
    data: tiny,
  }));
  await expectError(await postForm('/v1/predict/batch', many), 400, 'too_many_files', /more than 256 files/);
  const fields = Array.from({ length: 11 }, (_, i) => ({ name: `note${i}`, data: 'x' }));
  await expectError(
    await postForm('/v1/predict', [...fields, file('a')]),
    400,
    'too_many_fields',
    /more than 10 fields/,
  );
  assert.equal(
    (await postForm('/v1/predict', [...fields.slice(0, 10), file('a')])).status,
    200,
    'ten fields and a file are fine',
  );

  const { stderr } = await captureStderr(async () => {
    const whole = multipartBody([file('a')]);
    const noBoundary = await rawRequest(
      server.url,
      Buffer.concat([
        Buffer.from(
          head('POST', '/v1/predict', {
            'Content-Type': 'multipart/form-data',
            'Content-Length': whole.length,
            Connection: 'close',
          }),
        ),
        whole,
      ]),
    );
    assert.equal(noBoundary.status, 400, noBoundary.text);
    assert.equal(JSON.parse(noBoundary.body).error.code, 'bad_multipart');
    const cut = whole.subarray(0, 200);
    const cutOff = await rawRequest(
      server.url,
      Buffer.concat([
        Buffer.from(
          head('POST', '/v1/predict', {
            'Content-Type': 'multipart/form-data; boundary=XBOUNDARYX',
            'Content-Length': cut.length,
            Connection: 'close',
          }),
        ),
        cut,
      ]),
    );
    assert.equal(cutOff.status, 400, cutOff.text);
    assert.match(JSON.parse(cutOff.body).error.message, /cut off or malformed/);
  });
  assert.equal(stderr, '');
});

test('a request with no body at all (no type, 0 bytes) is a 415 on both routes, not a 500 (found by the fuzz)', async () => {
  for (const path of ['/v1/predict', '/v1/predict/batch'])
    await expectError(await fetch(server.url + path, { method: 'POST' }), 415, 'unsupported_media_type');
});

test('the 30-byte WebP of issue #24 is a 400 bad_image on every route that takes images (it was a 500), naming where it came from', async () => {
  const webp = thirtyByteWebp();
  const { stderr } = await captureStderr(async () => {
    await expectError(
      await post('/v1/predict', webp, 'image/webp'),
      400,
      'bad_image',
      /^the request body: cannot be read as an image/,
    );
    await expectError(
      await postJson('/v1/predict', { image: `data:image/webp;base64,${base64(webp)}` }),
      400,
      'bad_image',
      /^image: /,
    );
    await expectError(
      await postForm('/v1/predict', [{ name: 'file', filename: 'w.webp', type: 'image/webp', data: webp }]),
      400,
      'bad_image',
      /^uploaded file w\.webp: /,
    );
    await expectError(
      await postForm('/v1/predict/batch', [
        { name: 'a', filename: 'a.png', type: 'image/png', data: seven },
        { name: 'b', filename: 'w.webp', data: webp },
      ]),
      400,
      'bad_image',
      /^uploaded file 1 \(w\.webp\): /,
    );
    await expectError(
      await postJson('/v1/predict/batch', { items: [{ image: base64(webp) }] }),
      400,
      'bad_image',
      /^items\[0\]\.image: /,
    );
    const v2 = await postJson('/v2/models/mnist/infer', {
      inputs: [{ name: 'image', datatype: 'BYTES', shape: [1], data: [base64(webp)] }],
    });
    assert.equal(v2.status, 400);
    assert.match((await v2.json()).error, /element 0: cannot be read as an image/);
  });
  assert.equal(stderr, '', 'a client error, not logged');
});

test("a request's pictures add up to at most --max-request-pixels: a batch over it is refused from the headers before any is decoded; a JSON batch as it goes", async () => {
  const large = greyPng(4096);
  const files = Array.from({ length: 38 }, (_, i) => ({
    name: `f${i}`,
    filename: `${i}.png`,
    type: 'image/png',
    data: large,
  }));
  // All 38 (637.5 million pixels) counted from their headers: none decoded.
  await expectError(
    await postForm('/v1/predict/batch', files),
    413,
    'request_too_large',
    /^the pictures of this request add up to 637\.5 million pixels, over the limit of 67\.1 million for one request: send fewer at once$/,
  );
  const v2 = await postJson('/v2/models/mnist/infer', {
    inputs: [{ name: 'image', datatype: 'BYTES', shape: [5], data: Array.from({ length: 5 }, () => base64(large)) }],
  });
  assert.equal(v2.status, 413);
  assert.match((await v2.json()).error, /add up to 83\.9 million pixels/);
  // JSON items are counted as each is reached: the fifth picture at the limit is one too many.
  await expectError(
    await postJson('/v1/predict/batch', { items: Array.from({ length: 5 }, () => ({ image: base64(large) })) }),
    413,
    'request_too_large',
    /add up to 83\.9 million pixels/,
  );
  // Four are read, and so is a batch of small ones.
  const four = await postForm('/v1/predict/batch', files.slice(0, 4));
  assert.equal(four.status, 200, await four.clone().text());
  assert.equal((await four.json()).predictions.length, 4);
});

test('a request given up (its client gone) leaves no decode behind: queued ones leave, the running one is ended', async () => {
  const bmp = oneBitBmp(4096);
  const rules = server.app.imageRules;
  const controllers = [0, 1, 2, 3].map(() => new AbortController());
  const sent = controllers.map((controller) =>
    post('/v1/predict', bmp, 'image/bmp', controller.signal).catch(() => 'gone'),
  );
  // Until the server has them decoding or waiting.
  for (let i = 0; i < 100 && picturePoolLoad().running === 0; i++)
    await new Promise((resolve) => setTimeout(resolve, 20));
  assert.ok(picturePoolLoad().running > 0, 'a decode is running');
  for (const controller of controllers) controller.abort();
  await Promise.all(sent);
  for (
    let i = 0;
    i < 100 && (picturePoolLoad().running + picturePoolLoad().queued > 0 || rules.budget?.state.usedBytes);
    i++
  )
    await new Promise((resolve) => setTimeout(resolve, 20));
  assert.deepEqual({ running: picturePoolLoad().running, queued: picturePoolLoad().queued }, { running: 0, queued: 0 });
  assert.deepEqual(rules.budget?.state, { usedBytes: 0, waiting: 0 });
  assert.equal((await post('/v1/predict', seven, 'image/png')).status, 200, 'and the server answers');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { API_ERRORS, ApiError, errorBody, faultLine, toApiError } from '../../src/serve/errors.js';

const coded = (code: string, message = 'x', statusCode?: number) =>
  Object.assign(new Error(message), { code, statusCode });

test("Fastify's, @fastify/multipart's and busboy's own errors become 4xx with messages a client can act on", () => {
  const limits = { bodyLimit: 5000, maxFiles: 256 };
  const cases: [Error, number, string, RegExp][] = [
    [coded('FST_ERR_CTP_BODY_TOO_LARGE'), 413, 'body_too_large', /larger than the limit of 5000 bytes/],
    [coded('FST_FILES_LIMIT', 'reach files limit', 413), 400, 'too_many_files', /more than 256 files/],
    [coded('FST_FIELDS_LIMIT', 'reach fields limit', 413), 400, 'too_many_fields', /more than 10 fields/],
    [coded('FST_PARTS_LIMIT', 'reach parts limit', 413), 400, 'too_many_parts', /too many parts/],
    [coded('FST_ERR_BAD_URL', "'/%' is not a valid url component", 400), 400, 'bad_url', /URL is not valid/],
    [coded('FST_MP_PREMATURE_CLOSE', 'closed', 400), 400, 'bad_multipart', /ended before/],
    [new Error('Multipart: Boundary not found'), 400, 'bad_multipart', /no boundary/],
    [new Error('Part terminated early due to unexpected end of multipart data'), 400, 'bad_multipart', /cut off/],
    [new Error('Unexpected end of form'), 400, 'bad_multipart', /cut off/],
    [new SyntaxError('Unexpected token'), 400, 'bad_json', /not valid JSON/],
    [Object.assign(new Error('Request Entity Too Large'), { statusCode: 413 }), 413, 'body_too_large', /5000 bytes/],
    [Object.assign(new Error('nope'), { statusCode: 404 }), 404, 'bad_request', /nope/],
    [new TypeError("Cannot read properties of undefined (reading 'x')"), 500, 'internal', /^internal error$/],
  ];
  for (const [err, status, code, message] of cases) {
    const apiError = toApiError(err, limits);
    assert.equal(apiError.status, status, err.message);
    assert.equal(apiError.code, code, err.message);
    assert.match(apiError.message, message);
  }
  const own = new ApiError(422, 'wrong_pixel_count', 'y');
  assert.equal(toApiError(own, 1), own);
  assert.deepEqual(errorBody(own), { error: { status: 422, code: 'wrong_pixel_count', message: 'y' } });
});

test('a server fault is logged as one line: the error and where it was thrown, never the stack', () => {
  const err = new TypeError('bad\nthing');
  const line = faultLine('POST', '/v1/predict?explain=1', err);
  assert.doesNotMatch(line, /\n/);
  assert.match(line, /^error: POST \/v1\/predict\?explain=1: TypeError: bad thing \(.*errors\.test\.ts:\d+:\d+\)+$/);
  assert.ok(faultLine('GET', '/'.repeat(10_000), new Error('x'.repeat(10_000))).length < 800, 'bounded');
});

test('every error code is in the one registry, and the registry is documented: in docs/serving.md and in the OpenAPI error schema', async () => {
  const { readFile, readdir } = await import('node:fs/promises');
  const { join } = await import('node:path');
  const codes = Object.keys(API_ERRORS);
  // No code written anywhere in src/serve that is not the registry's (TypeScript holds ApiError to
  // it; this also catches a code put in a body by hand).
  const files = (await readdir('src/serve', { recursive: true })).filter(
    (f) => f.endsWith('.ts') && !f.startsWith('page'),
  );
  for (const file of files) {
    const text = await readFile(join('src/serve', file), 'utf8');
    for (const match of text.matchAll(
      /new ApiError\(\s*[^,]+,\s*'([a-z_]+)'|\bcode: '([a-z_]+)'|\[\d{3}, '([a-z_]+)'/g,
    )) {
      const code = match[1] ?? match[2] ?? match[3];
      assert.ok(codes.includes(code), `${file}: code '${code}' is not in API_ERRORS`);
    }
  }
  const serving = await readFile('docs/serving.md', 'utf8');
  for (const code of codes)
    assert.match(serving, new RegExp(`\\| \`${code}\` \\|`), `docs/serving.md's table of error codes has ${code}`);
  const { ERROR_SCHEMA } = await import('../../src/serve/schemas.js');
  const documented = ERROR_SCHEMA.properties.error.properties.code;
  assert.deepEqual([...documented.enum], codes);
  for (const code of codes) assert.ok(documented.description.includes(`\`${code}\``), code);
});

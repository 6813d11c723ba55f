/**
 * The OpenAPI document is made by @fastify/swagger from the routes' own schemas: it describes
 * every route the app answers, it is valid OpenAPI 3.0.3 (checked by @apidevtools/swagger-parser,
 * which code generators' validators agree with), and /docs lists it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import SwaggerParser from '@apidevtools/swagger-parser';
import { startServer, type RunningServer } from '../../src/serve/server.js';
import { quickRunDir } from '../helpers/quick-run.js';

let server: RunningServer;
let document: {
  openapi: string;
  paths: Record<string, Record<string, { summary?: string; responses: Record<string, unknown> }>>;
};

before(async () => {
  server = await startServer({ runDir: await quickRunDir(), port: 0, modelName: 'mnist' });
  document = await (await fetch(`${server.url}/openapi.json`)).json();
});
after(() => server.close());

/** Every schema object in a document, wherever it is. */
function* schemas(value: unknown): Generator<Record<string, unknown>> {
  if (Array.isArray(value)) for (const item of value) yield* schemas(item);
  else if (typeof value === 'object' && value !== null) {
    yield value as Record<string, unknown>;
    for (const child of Object.values(value)) yield* schemas(child);
  }
}

test('the document is valid OpenAPI 3.0.3: nullable, not a list of types', async () => {
  assert.equal(document.openapi, '3.0.3');
  await SwaggerParser.validate(structuredClone(document) as never);
  for (const schema of schemas(document))
    assert.ok(
      !Array.isArray(schema.type),
      `a list of types (OpenAPI 3.1's form): ${JSON.stringify(schema).slice(0, 200)}`,
    );
  const prediction = (
    document.paths['/v1/predict'].post.responses['200'] as {
      content: Record<string, { schema: { properties: Record<string, unknown> } }>;
    }
  ).content['application/json'].schema;
  assert.deepEqual(prediction.properties.digit, {
    type: 'integer',
    nullable: true,
    minimum: 0,
    maximum: 9,
    description: 'null when the input is not a digit (see reason)',
  });
});

test('it describes exactly the routes the app answers, each with a summary and its answers', () => {
  const documented = Object.entries(document.paths).flatMap(([path, item]) =>
    Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`),
  );
  for (const [method, path] of [
    ['POST', '/v1/predict'],
    ['POST', '/v1/predict/batch'],
    ['GET', '/v1/model'],
    ['GET', '/model/{file}'],
    ['GET', '/healthz'],
    ['GET', '/readyz'],
    ['GET', '/metrics'],
    ['GET', '/openapi.json'],
    ['GET', '/docs'],
    ['GET', '/'],
    ['GET', '/page/{file}'],
    ['GET', '/data/mnist/{file}'],
    ['GET', '/v1/corrections'],
    ['POST', '/v1/corrections'],
    ['GET', '/v2'],
    ['POST', '/v2/models/{name}/infer'],
    ['POST', '/v2/models/{name}/versions/{version}/infer'],
  ]) {
    assert.ok(documented.includes(`${method} ${path}`), `${method} ${path} is documented`);
  }
  for (const [path, item] of Object.entries(document.paths)) {
    for (const [method, op] of Object.entries(item)) {
      assert.equal(typeof op.summary, 'string', `${method} ${path} has a summary`);
      assert.ok(op.responses['200'], `${method} ${path} documents its answer`);
    }
  }
  assert.equal(documented.length, 23, documented.join('\n'));
});

test('/docs lists every operation of the document', async () => {
  const docs = await fetch(`${server.url}/docs`);
  assert.match(docs.headers.get('content-type') ?? '', /text\/html/);
  const html = await docs.text();
  for (const path of Object.keys(document.paths))
    assert.ok(html.includes(`<code>${path.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</code>`), path);
});

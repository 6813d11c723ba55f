/**
 * The API's OpenAPI 3.0.3 document, built by @fastify/swagger from the routes' own schemas (a
 * route added with its schema is documented; nothing is written twice), served at /openapi.json,
 * and /docs: a page listing its operations, made from the same document (self-contained, under the
 * server's strict Content-Security-Policy, and readable without JavaScript).
 */
import { createHash } from 'node:crypto';
import swagger, { type SwaggerOptions } from '@fastify/swagger';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { escapeMarkup } from '../util/markup.js';
import { mediaAnswer } from './schemas.js';
import { VERSION } from '../util/version.js';

const DESCRIPTION = 'Reads handwritten digits with a convolutional network trained on MNIST.';

/** @fastify/swagger's settings: OpenAPI 3.0.3 (its `nullable`, not 3.1's `type: [..., "null"]`). */
const SWAGGER_OPTIONS: SwaggerOptions = {
  openapi: { openapi: '3.0.3', info: { title: 'mnist-cnn', version: VERSION, description: DESCRIPTION } },
  // A prefix's own route ('/' under /v2) is documented at the prefix, which Fastify answers too.
  transform: ({ schema, url }) => ({ schema, url: url.length > 1 ? url.replace(/\/$/, '') : url }),
};

/** Register @fastify/swagger on the app, before its routes: it collects them as they are added. */
export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(swagger, SWAGGER_OPTIONS);
}

/** GET /openapi.json and /docs (the app must have registerOpenApi's @fastify/swagger). */
export const openApiRoutes: FastifyPluginAsync = async (app) => {
  const document = () => app.swagger() as unknown as ApiDocument;
  const openapi = {
    summary: 'This document',
    response: { 200: { description: 'the OpenAPI 3.0.3 document', type: 'object', additionalProperties: true } },
  };
  app.get('/openapi.json', { schema: openapi }, async (_request, reply) =>
    reply.type('application/json; charset=utf-8').send(JSON.stringify(document())),
  );
  const docs = {
    summary: 'Human-readable API documentation',
    response: { 200: mediaAnswer('text/html', 'the operations of the document', { type: 'string' }) },
  };
  let page: string | undefined;
  app.get('/docs', { schema: docs }, async (_request, reply) =>
    reply.type('text/html; charset=utf-8').send((page ??= docsPage(document()))),
  );
};

/** The docs page's one inline style; the Content-Security-Policy allows it by this hash. */
const DOCS_STYLE =
  'body{font:16px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;color:#222}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.4rem;text-align:left;vertical-align:top}code{background:#f4f4f4;padding:0 .2rem}pre{background:#f4f4f4;padding:1rem;overflow:auto}';
export const DOCS_STYLE_HASH = `sha256-${createHash('sha256').update(DOCS_STYLE).digest('base64')}`;

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

/** What the docs page reads of an OpenAPI document. */
interface ApiDocument {
  info: { description?: string };
  paths: Record<
    string,
    Partial<
      Record<
        (typeof METHODS)[number],
        { summary?: string; requestBody?: { content?: Record<string, unknown> }; responses: Record<string, unknown> }
      >
    >
  >;
}

/** A self-contained page listing the operations of an OpenAPI document. */
function docsPage(document: ApiDocument): string {
  const rows = Object.entries(document.paths).flatMap(([path, item]) =>
    METHODS.flatMap((method) => {
      const op = item[method];
      if (!op) return [];
      const body = Object.keys(op.requestBody?.content ?? {});
      return [
        `<tr><td><code>${method.toUpperCase()}</code></td><td><code>${escapeMarkup(path)}</code></td><td>${escapeMarkup(op.summary ?? '')}</td><td>${body.map((c) => `<code>${escapeMarkup(c)}</code>`).join(' ')}</td><td>${Object.keys(op.responses).join(', ')}</td></tr>`,
      ];
    }),
  );
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>mnist-cnn API</title>
<style>${DOCS_STYLE}</style></head>
<body><h1>mnist-cnn API</h1><p>${escapeMarkup(document.info.description ?? '')} The machine-readable document is at <a href="/openapi.json">/openapi.json</a>; the draw-a-digit page is at <a href="/">/</a>.</p>
<table><thead><tr><th>method</th><th>path</th><th>what</th><th>bodies</th><th>statuses</th></tr></thead><tbody>${rows.join('\n')}</tbody></table>
<h2>Examples</h2><pre>curl -s --data-binary @digit.png -H 'Content-Type: image/png' http://127.0.0.1:3000/v1/predict
curl -s -F file=@digit.jpg http://127.0.0.1:3000/v1/predict
curl -s -H 'Content-Type: application/json' -d '{"pixels": [0, 0, …784 values…]}' http://127.0.0.1:3000/v1/predict?explain=1</pre>
<p>Errors are JSON <code>{"error": {"status", "code", "message"}}</code> (the <code>code</code>s are listed in the document's error schema); the <code>/v2</code> routes answer <code>{"error": "..."}</code>, as the Open Inference Protocol says.</p></body></html>`;
}

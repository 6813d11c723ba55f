import { createHash } from 'node:crypto';
import { PIXELS } from '../data/types.js';
import { OPENAPI_V2_PATHS } from './openapi-v2.js';
import { OPENAPI_CORRECTIONS_PATHS } from './routes/corrections.js';
import { escapeMarkup } from '../util/markup.js';
import { VERSION } from '../util/version.js';

const prediction = {
  type: 'object',
  required: ['digit', 'confidence', 'probabilities', 'set'],
  properties: {
    digit: { type: ['integer', 'null'], minimum: 0, maximum: 9, description: 'null when the input is not a digit (see reason)' },
    confidence: { type: 'number', description: 'the highest of the ten digits\' probabilities' },
    probabilities: { type: 'array', items: { type: 'number' }, minItems: 10, maxItems: 10, description: 'the probability of each digit 0-9 (calibrated); with notADigit they sum to 1 - notADigit' },
    notADigit: { type: 'number', description: 'the probability that the picture is no digit at all (models trained with non-digits: their 11th output)' },
    set: {
      type: 'array',
      items: { type: 'integer', minimum: 0, maximum: 9 },
      maxItems: 10,
      description: "the prediction set: the digits, most likely first, that hold the true one with the run's coverage (99%, fitted on its validation split by split conformal prediction): [4] when sure, [4, 9] when unsure between them (also with a low-confidence null digit); [] when the picture is taken for no digit. Runs fitted before sets give the most likely digit alone",
    },
    reason: { type: 'string', description: "why digit is null: 'blank', 'too small', 'no dominant stroke', 'not a digit (…)' (the model's fitted rule), 'low confidence (…)'" },
    input: { type: 'array', items: { type: 'integer' }, minItems: PIXELS, maxItems: PIXELS, description: 'with ?explain=1: the 28x28 image the model saw, 0-255, row by row' },
  },
};

const error = {
  type: 'object',
  properties: { error: { type: 'object', properties: { status: { type: 'integer' }, code: { type: 'string' }, message: { type: 'string' } } } },
};

/** JSON bodies: 784 MNIST-form pixels, or a base64 image that the server preprocesses. */
export const PIXELS_OR_IMAGE = {
  oneOf: [
    {
      type: 'object',
      required: ['pixels'],
      additionalProperties: false,
      properties: { pixels: { type: 'array', items: { type: 'number' }, description: `${PIXELS} values 0-255: a 28x28 image, white ink on black, centred as MNIST (the page sends these after the shared preprocessing)` } },
    },
    {
      type: 'object',
      required: ['image'],
      additionalProperties: false,
      properties: { image: { type: 'string', description: 'a PNG, JPEG, WebP or BMP file, base64 (a data: URL prefix is accepted; its media type must match the bytes)' } },
    },
  ],
};

const json = { 'application/json': { schema: error } };
const errors = {
  '400': { description: 'undecodable image, malformed JSON, multipart or request; more than one file to /v1/predict', content: json },
  '408': { description: 'the request was not received within the request timeout', content: json },
  '413': { description: 'body over the size limit, an image over the pixel limit, or the images of one request adding up to more than its pixel limit (request_too_large); their headers say so, nothing is decoded', content: json },
  '415': { description: 'unsupported content type, an image format other than PNG, JPEG, WebP or BMP, or bytes that are not what the content type says', content: json },
  '422': { description: 'wrong pixel count or values out of 0-255; an image that takes too long to decode', content: json },
  '429': { description: 'over the rate limit (only with serve --rate-limit); Retry-After says when to retry', content: json },
  '503': { description: 'the server is at its limit of requests in flight, a large image waited too long for decoding memory (busy), or the server is draining; Retry-After says when to retry', content: json },
};

const explain = [{ name: 'explain', in: 'query', required: false, schema: { type: 'string', enum: ['0', '1'] }, description: '1: add the 28x28 input the model saw' }];
const layers = { name: 'layers', in: 'query', required: false, schema: { type: 'string', enum: ['0', '1'] }, description: "1: add what the network computes inside for the input: each convolution's maps and the hidden dense layers' values, quantised to bytes (about 26 kB of JSON for the default network)" };
const layerView = {
  type: 'object',
  required: ['kind', 'label', 'layer', 'shape', 'height', 'width', 'channels', 'lo', 'hi', 'factor', 'data'],
  properties: {
    kind: { type: 'string', enum: ['conv', 'dense'], description: "'conv': feature maps; 'dense': a hidden layer's values" },
    label: { type: 'string', description: "e.g. 'conv 1'" },
    layer: { type: 'string', description: 'the layer name in the model' },
    after: { type: 'string', description: 'the layers folded into this view (activation, batch norm)' },
    shape: { type: 'array', items: { type: 'integer' }, description: "the layer's output shape: [height, width, channels] or [units]" },
    height: { type: 'integer' },
    width: { type: 'integer' },
    channels: { type: 'integer' },
    lo: { type: 'number', description: 'each byte b stands for lo + b / 255 * (hi - lo)' },
    hi: { type: 'number' },
    factor: { type: 'integer', description: 'layer pixels per view pixel, per side (maps shrunk by their maximum)' },
    data: { type: 'string', format: 'byte', description: 'base64 of channels*height*width bytes, map by map' },
  },
};

export const OPENAPI = {
  openapi: '3.0.3',
  info: { title: 'mnist-cnn', version: VERSION, description: 'Reads handwritten digits with a convolutional network trained on MNIST.' },
  paths: {
    '/v1/predict': {
      post: {
        summary: 'Read one digit',
        parameters: [...explain, layers],
        requestBody: {
          required: true,
          content: {
            'image/png': { schema: { type: 'string', format: 'binary' } },
            'image/jpeg': { schema: { type: 'string', format: 'binary' } },
            'image/webp': { schema: { type: 'string', format: 'binary' } },
            'image/bmp': { schema: { type: 'string', format: 'binary' } },
            'multipart/form-data': { schema: { type: 'object', properties: { file: { type: 'string', format: 'binary' } } } },
            'application/json': { schema: PIXELS_OR_IMAGE },
          },
        },
        responses: { '200': { description: 'the prediction', content: { 'application/json': { schema: { ...prediction, properties: { ...prediction.properties, layers: { type: 'array', items: layerView, description: 'with ?layers=1' } } } } } }, ...errors },
      },
    },
    '/v1/predict/batch': {
      post: {
        summary: 'Read several digits, answered in order',
        parameters: explain,
        requestBody: {
          required: true,
          content: {
            'application/json': { schema: { type: 'object', required: ['items'], properties: { items: { type: 'array', items: PIXELS_OR_IMAGE } } } },
            'multipart/form-data': { schema: { type: 'object', properties: { files: { type: 'array', items: { type: 'string', format: 'binary' } } } } },
          },
        },
        responses: {
          '200': { description: 'the predictions, in the order given', content: { 'application/json': { schema: { type: 'object', properties: { predictions: { type: 'array', items: prediction } } } } } },
          ...errors,
        },
      },
    },
    '/v1/model': { get: { summary: 'The served model: arch, test accuracy, when it was trained, preprocessing', responses: { '200': { description: 'model metadata' } } } },
    '/healthz': { get: { summary: 'Liveness', responses: { '200': { description: '{status: "ok"}' } } } },
    '/metrics': { get: { summary: 'Prometheus metrics: requests, latency histogram, errors, tensors in memory', responses: { '200': { description: 'text/plain; version=0.0.4' } } } },
    '/openapi.json': { get: { summary: 'This document', responses: { '200': { description: 'OpenAPI 3 document' } } } },
    '/docs': { get: { summary: 'Human-readable API documentation', responses: { '200': { description: 'HTML' } } } },
    '/': { get: { summary: 'The draw-a-digit page', responses: { '200': { description: 'HTML' } } } },
    '/data/mnist/{file}': { get: { summary: "MNIST's four original IDX files (checked against their SHA-256), for the page's Train panel", responses: { '200': { description: 'application/octet-stream' }, '404': { description: 'no such file, or no MNIST data on this server', content: json } } } },
    '/readyz': { get: { summary: 'Readiness: 200 once the model is loaded and warmed, 503 while starting or draining', responses: { '200': { description: '{status: "ready"}' }, '503': { description: '{status: "starting"} or {status: "draining"}' } } } },
    ...OPENAPI_V2_PATHS,
    ...OPENAPI_CORRECTIONS_PATHS,
  },
};

/** The docs page's one inline style; the Content-Security-Policy allows it by this hash. */
const DOCS_STYLE =
  'body{font:16px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;color:#222}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.4rem;text-align:left;vertical-align:top}code{background:#f4f4f4;padding:0 .2rem}pre{background:#f4f4f4;padding:1rem;overflow:auto}';
export const DOCS_STYLE_HASH = `sha256-${createHash('sha256').update(DOCS_STYLE).digest('base64')}`;

/** A self-contained page listing the endpoints of OPENAPI. */
export function docsPage(): string {
  const rows = Object.entries(OPENAPI.paths).flatMap(([path, methods]) =>
    Object.entries(methods as Record<string, { summary: string; requestBody?: { content: Record<string, unknown> }; responses: Record<string, unknown> }>).map(
      ([method, op]) =>
        `<tr><td><code>${method.toUpperCase()}</code></td><td><code>${escapeMarkup(path)}</code></td><td>${escapeMarkup(op.summary)}</td><td>${op.requestBody ? Object.keys(op.requestBody.content).map((c) => `<code>${c}</code>`).join(' ') : ''}</td><td>${Object.keys(op.responses).join(', ')}</td></tr>`,
    ),
  );
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>mnist-cnn API</title>
<style>${DOCS_STYLE}</style></head>
<body><h1>mnist-cnn API</h1><p>${escapeMarkup(OPENAPI.info.description)} The machine-readable document is at <a href="/openapi.json">/openapi.json</a>; the draw-a-digit page is at <a href="/">/</a>.</p>
<table><thead><tr><th>method</th><th>path</th><th>what</th><th>bodies</th><th>statuses</th></tr></thead><tbody>${rows.join('\n')}</tbody></table>
<h2>Examples</h2><pre>curl -s --data-binary @digit.png -H 'Content-Type: image/png' http://127.0.0.1:3000/v1/predict
curl -s -F file=@digit.jpg http://127.0.0.1:3000/v1/predict
curl -s -H 'Content-Type: application/json' -d '{"pixels": [0, 0, …784 values…]}' http://127.0.0.1:3000/v1/predict?explain=1</pre>
<p>Errors are JSON <code>{"error": {"status", "code", "message"}}</code>: 400 undecodable image or malformed JSON, 408 request too slow, 413 body or image over the limit, 415 unsupported content type or image format, 422 wrong pixel count or values out of range, 429 over the rate limit, 503 busy or draining (with Retry-After).</p></body></html>`;
}

import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Preprocessed } from '../../image/preprocess.js';
import type { Prediction } from '../../predict/interpret.js';
import type { Predictor } from '../../predict/predictor.js';
import { ApiError } from '../errors.js';
import { bytesView, fromImageBytes, fromImageFiles, fromJsonItem, readFormFiles, type JsonItem } from '../inputs.js';
import { PIXELS_OR_IMAGE } from '../openapi.js';
import { layersAnswer } from './layers.js';

/** Most inputs in one batch request (JSON items or multipart files). */
export const MAX_BATCH = 256;

function answer(prediction: Prediction, input: Preprocessed, explain: boolean): Prediction & { input?: number[] } {
  return explain ? { ...prediction, input: Array.from(input.pixels) } : prediction;
}

const wantsExplain = (request: FastifyRequest) => (request.query as { explain?: string }).explain === '1';
const wantsLayers = (request: FastifyRequest) => (request.query as { layers?: string }).layers === '1';
const jsonBody = (schema: object) => ({ body: { content: { 'application/json': { schema } } } });

/** POST /v1/predict (one image) and /v1/predict/batch (up to MAX_BATCH). */
export function registerPredictRoutes(app: FastifyInstance, predictor: Predictor): void {
  const bodyLimit = app.initialConfig.bodyLimit ?? 1024 * 1024;

  app.post('/v1/predict', { schema: jsonBody(PIXELS_OR_IMAGE) }, async (request) => {
    let input: Preprocessed;
    if (request.isMultipart()) {
      const files = await readFormFiles(request, { bodyLimit, maxFiles: 1, tooMany: 'the form holds more than one file: /v1/predict reads one (send several to /v1/predict/batch)' });
      if (files.length === 0) throw new ApiError(400, 'bad_request', 'the multipart form holds no file');
      const [file] = files;
      input = await fromImageBytes(predictor, file.bytes, `uploaded file ${file.filename || '(no name)'}`, file.mimetype, request);
    } else if (Buffer.isBuffer(request.body)) {
      input = await fromImageBytes(predictor, bytesView(request.body), 'the request body', request.headers['content-type'], request);
    } else {
      input = await fromJsonItem(predictor, request.body as JsonItem, '', request);
    }
    const [prediction] = await predictor.predict([input]);
    const body = answer(prediction, input, wantsExplain(request));
    // ?layers=1: what the network computes inside for this input (routes/layers.ts), for the page's layer panel.
    return wantsLayers(request) ? { ...body, layers: layersAnswer(predictor, input) } : body;
  });

  const batchSchema = { type: 'object', required: ['items'], additionalProperties: false, properties: { items: { type: 'array', minItems: 1, maxItems: MAX_BATCH, items: PIXELS_OR_IMAGE } } };
  app.post('/v1/predict/batch', { schema: jsonBody(batchSchema) }, async (request) => {
    const inputs: Preprocessed[] = [];
    if (request.isMultipart()) {
      const files = await readFormFiles(request, { bodyLimit, maxFiles: MAX_BATCH, tooMany: `the form holds more than ${MAX_BATCH} files, the most a batch takes` });
      if (files.length === 0) throw new ApiError(400, 'bad_request', 'the multipart form holds no file');
      inputs.push(...(await fromImageFiles(predictor, files.map((file, i) => ({ bytes: file.bytes, name: `uploaded file ${i} (${file.filename || 'no name'})`, type: file.mimetype })), request)));
    } else if (typeof request.body !== 'object' || request.body === null || Buffer.isBuffer(request.body)) {
      // An image body, or no body at all.
      throw new ApiError(415, 'unsupported_media_type', 'a batch is JSON {"items": [...]} or a multipart form of files');
    } else {
      const { items } = request.body as { items: JsonItem[] };
      for (const [i, item] of items.entries()) inputs.push(await fromJsonItem(predictor, item, `items[${i}].`, request));
    }
    const explain = wantsExplain(request);
    return { predictions: (await predictor.predict(inputs)).map((p, i) => answer(p, inputs[i], explain)) };
  });
}

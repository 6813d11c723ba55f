import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Preprocessed } from '../../image/preprocess.js';
import type { Prediction } from '../../predict/interpret.js';
import type { Predictor } from '../../predict/predictor.js';
import { ApiError } from '../errors.js';
import { fromImageBytes, fromJsonItem, type JsonItem } from '../inputs.js';
import { PIXELS_OR_IMAGE } from '../openapi.js';

/** Most inputs in one batch request (JSON items or multipart files). */
export const MAX_BATCH = 256;

function answer(prediction: Prediction, input: Preprocessed, explain: boolean): Prediction & { input?: number[] } {
  return explain ? { ...prediction, input: Array.from(input.pixels) } : prediction;
}

const wantsExplain = (request: FastifyRequest) => (request.query as { explain?: string }).explain === '1';
const jsonBody = (schema: object) => ({ body: { content: { 'application/json': { schema } } } });

/** POST /v1/predict (one image) and /v1/predict/batch (up to MAX_BATCH). */
export function registerPredictRoutes(app: FastifyInstance, predictor: Predictor): void {
  app.post('/v1/predict', { schema: jsonBody(PIXELS_OR_IMAGE) }, async (request) => {
    let input: Preprocessed;
    if (request.isMultipart()) {
      const file = await request.file();
      if (!file) throw new ApiError(400, 'bad_request', 'the multipart form holds no file');
      input = await fromImageBytes(predictor, new Uint8Array(await file.toBuffer()), `uploaded file ${file.filename || '(no name)'}`);
    } else if (Buffer.isBuffer(request.body)) {
      input = await fromImageBytes(predictor, new Uint8Array(request.body), 'the request body');
    } else {
      input = await fromJsonItem(predictor, request.body as JsonItem, '');
    }
    const [prediction] = await predictor.predict([input]);
    return answer(prediction, input, wantsExplain(request));
  });

  const batchSchema = { type: 'object', required: ['items'], additionalProperties: false, properties: { items: { type: 'array', minItems: 1, maxItems: MAX_BATCH, items: PIXELS_OR_IMAGE } } };
  app.post('/v1/predict/batch', { schema: jsonBody(batchSchema) }, async (request) => {
    const inputs: Preprocessed[] = [];
    if (request.isMultipart()) {
      for await (const file of request.files()) {
        inputs.push(await fromImageBytes(predictor, new Uint8Array(await file.toBuffer()), `uploaded file ${inputs.length} (${file.filename || 'no name'})`));
      }
      if (inputs.length === 0) throw new ApiError(400, 'bad_request', 'the multipart form holds no file');
    } else if (Buffer.isBuffer(request.body)) {
      throw new ApiError(415, 'unsupported_media_type', 'a batch is JSON {"items": [...]} or a multipart form of files');
    } else {
      const { items } = request.body as { items: JsonItem[] };
      for (const [i, item] of items.entries()) inputs.push(await fromJsonItem(predictor, item, `items[${i}].`));
    }
    const explain = wantsExplain(request);
    return { predictions: (await predictor.predict(inputs)).map((p, i) => answer(p, inputs[i], explain)) };
  });
}

import type { FastifyError, FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { Preprocessed } from '../../image/preprocess.js';
import type { Prediction } from '../../predict/interpret.js';
import { ApiError } from '../errors.js';
import {
  API_MEDIA_TYPES,
  bytesView,
  decorateImageRequests,
  fromImageBytes,
  fromImageFiles,
  fromJsonItem,
  readFormFiles,
  type ImageReader,
  type JsonItem,
} from '../inputs.js';
import { BINARY, ERROR_RESPONSES, flag, LAYER_VIEW, PIXELS_OR_IMAGE, PREDICTION } from '../schemas.js';
import { layersAnswer } from './layers.js';

/** Most inputs in one batch request (JSON items or multipart files). */
export const MAX_BATCH = 256;

/** The predict routes' options: the served model and the server's image rules (app.ts). */
export type PredictOptions = ImageReader;

function answer(prediction: Prediction, input: Preprocessed, explain: boolean): Prediction & { input?: number[] } {
  return explain ? { ...prediction, input: Array.from(input.pixels) } : prediction;
}

type Query = { explain?: '0' | '1'; layers?: '0' | '1' };
type PredictRequest = FastifyRequest<{ Querystring: Query }>;

/**
 * A request body whose JSON does not match the route's schema is a 400 that shows the shape
 * wanted; every other error goes on to the app's error handler (thrown from here, Fastify hands
 * it to the next handler up).
 */
const bodyShapeError = (shape: string) => (err: FastifyError) => {
  if (err.validation && err.validationContext === 'body')
    throw new ApiError(400, 'bad_request', `the JSON body must be ${shape} (${err.message})`);
  throw err;
};

/** The bodies a route reads: JSON (validated against `json`), image files, a multipart form of `form`. */
const bodies = (json: object, form: object) => ({
  content: {
    'application/json': { schema: json },
    ...Object.fromEntries(
      API_MEDIA_TYPES.map((type) => [type, { schema: { ...BINARY, description: 'the image file' } }]),
    ),
    'multipart/form-data': { schema: form },
  },
});

/** POST /v1/predict (one image) and /v1/predict/batch (up to MAX_BATCH). */
export const predictRoutes: FastifyPluginAsync<PredictOptions> = async (app, reader) => {
  const bodyLimit = app.initialConfig.bodyLimit ?? 1024 * 1024;
  decorateImageRequests(app);
  const explain = flag('1: add the 28x28 input the model saw');

  app.post(
    '/v1/predict',
    {
      schema: {
        summary: 'Read one digit',
        querystring: {
          type: 'object',
          properties: {
            explain,
            layers: flag(
              "1: add what the network computes inside for the input: each convolution's maps and the hidden dense layers' values, quantised to bytes (about 26 kB of JSON for the default network)",
            ),
          },
        },
        body: bodies(PIXELS_OR_IMAGE, { properties: { file: BINARY } }),
        response: {
          200: {
            description: 'the prediction',
            ...PREDICTION,
            properties: {
              ...PREDICTION.properties,
              layers: { type: 'array', items: LAYER_VIEW, description: 'with ?layers=1' },
            },
          },
          ...ERROR_RESPONSES,
        },
      },
      errorHandler: bodyShapeError('{"pixels": [784 numbers]} or {"image": "<base64>"}'),
    },
    async (request: PredictRequest) => {
      let input: Preprocessed;
      if (request.isMultipart()) {
        const files = await readFormFiles(request, {
          bodyLimit,
          maxFiles: 1,
          tooMany: 'the form holds more than one file: /v1/predict reads one (send several to /v1/predict/batch)',
        });
        if (files.length === 0) throw new ApiError(400, 'bad_request', 'the multipart form holds no file');
        const [file] = files;
        input = await fromImageBytes(
          reader,
          file.bytes,
          `uploaded file ${file.filename || '(no name)'}`,
          file.mimetype,
          request,
        );
      } else if (Buffer.isBuffer(request.body)) {
        input = await fromImageBytes(
          reader,
          bytesView(request.body),
          'the request body',
          request.headers['content-type'],
          request,
        );
      } else {
        input = await fromJsonItem(reader, request.body as JsonItem, '', request);
      }
      const [prediction] = await reader.predictor.predict([input]);
      const body = answer(prediction, input, request.query.explain === '1');
      // ?layers=1: what the network computes inside for this input (routes/layers.ts), for the page's layer panel.
      return request.query.layers === '1' ? { ...body, layers: layersAnswer(reader.predictor, input) } : body;
    },
  );

  const batch = {
    type: 'object',
    required: ['items'],
    additionalProperties: false,
    properties: { items: { type: 'array', minItems: 1, maxItems: MAX_BATCH, items: PIXELS_OR_IMAGE } },
  };
  app.post(
    '/v1/predict/batch',
    {
      schema: {
        summary: 'Read several digits, answered in order',
        querystring: { type: 'object', properties: { explain } },
        body: {
          content: {
            'application/json': { schema: batch },
            'multipart/form-data': {
              schema: {
                properties: { files: { type: 'array', items: BINARY } },
                description: `up to ${MAX_BATCH} files, any field names`,
              },
            },
          },
        },
        response: {
          200: {
            description: 'the predictions, in the order given',
            type: 'object',
            required: ['predictions'],
            properties: { predictions: { type: 'array', items: PREDICTION } },
          },
          ...ERROR_RESPONSES,
        },
      },
      errorHandler: bodyShapeError('{"items": [{"pixels": [784 numbers]} or {"image": "<base64>"}, ...]}'),
    },
    async (request: PredictRequest) => {
      const inputs: Preprocessed[] = [];
      if (request.isMultipart()) {
        const files = await readFormFiles(request, {
          bodyLimit,
          maxFiles: MAX_BATCH,
          tooMany: `the form holds more than ${MAX_BATCH} files, the most a batch takes`,
        });
        if (files.length === 0) throw new ApiError(400, 'bad_request', 'the multipart form holds no file');
        inputs.push(
          ...(await fromImageFiles(
            reader,
            files.map((file, i) => ({
              bytes: file.bytes,
              name: `uploaded file ${i} (${file.filename || 'no name'})`,
              type: file.mimetype,
            })),
            request,
          )),
        );
      } else if (typeof request.body !== 'object' || request.body === null || Buffer.isBuffer(request.body)) {
        // An image body, or no body at all.
        throw new ApiError(
          415,
          'unsupported_media_type',
          'a batch is JSON {"items": [...]} or a multipart form of files',
        );
      } else {
        const { items } = request.body as { items: JsonItem[] };
        for (const [i, item] of items.entries()) inputs.push(await fromJsonItem(reader, item, `items[${i}].`, request));
      }
      const explain = request.query.explain === '1';
      return { predictions: (await reader.predictor.predict(inputs)).map((p, i) => answer(p, inputs[i], explain)) };
    },
  );
};

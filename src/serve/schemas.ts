/**
 * The JSON schemas of the /v1 routes' bodies and answers, and the error shape every non-/v2 route
 * answers with. The routes carry them (Fastify validates requests against them and serialises
 * answers with them: a field not listed here is dropped from an answer), and @fastify/swagger
 * builds the OpenAPI document from them (openapi.ts). Written as JSON Schema (draft 7, what
 * Fastify's Ajv reads); @fastify/swagger turns `type: [..., 'null']` into OpenAPI 3.0's `nullable`.
 */
import { PIXELS } from '../data/types.js';
import { API_ERRORS, type ApiErrorCode } from './errors.js';

/** `{error: {status, code, message}}`: `code` one of the registry's (errors.ts, API_ERRORS). */
export const ERROR_SCHEMA = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['status', 'code', 'message'],
      properties: {
        status: { type: 'integer', description: 'the HTTP status' },
        code: {
          type: 'string',
          enum: Object.keys(API_ERRORS),
          description: `what went wrong, for a program: ${(Object.keys(API_ERRORS) as ApiErrorCode[]).map((code) => `\`${code}\` (${API_ERRORS[code].statuses.join(', ')}): ${API_ERRORS[code].description}`).join('; ')}`,
        },
        message: { type: 'string', description: 'what went wrong and where, for a person' },
      },
    },
  },
} as const;

/** The error answers of a route that reads a body, each with the error shape. */
export const ERROR_RESPONSES = {
  '4xx': {
    description:
      'the request is refused; `error.code` says why (400 malformed, 404 not found, 408 too slow, 413 too large, 415 a content type or image format not read, 422 values out of range, 429 over the rate limit)',
    ...ERROR_SCHEMA,
  },
  '5xx': {
    description:
      '503: busy, draining, starting or timed out (Retry-After says when to retry); 500: a fault of the server',
    ...ERROR_SCHEMA,
  },
} as const;

/** JSON bodies: 784 MNIST-form pixels, or a base64 image that the server preprocesses. */
export const PIXELS_OR_IMAGE = {
  oneOf: [
    {
      type: 'object',
      required: ['pixels'],
      additionalProperties: false,
      properties: {
        pixels: {
          type: 'array',
          items: { type: 'number' },
          description: `${PIXELS} values 0-255: a 28x28 image, white ink on black, centred as MNIST (the page sends these after the shared preprocessing)`,
        },
      },
    },
    {
      type: 'object',
      required: ['image'],
      additionalProperties: false,
      properties: {
        image: {
          type: 'string',
          description:
            'a PNG, JPEG, WebP or BMP file, base64 (a data: URL prefix is accepted; its media type must match the bytes)',
        },
      },
    },
  ],
} as const;

/** One answer (predict/interpret.ts's Prediction), and with ?explain=1 the input the model saw. */
export const PREDICTION = {
  type: 'object',
  required: ['digit', 'confidence', 'probabilities', 'set'],
  properties: {
    digit: {
      type: ['integer', 'null'],
      minimum: 0,
      maximum: 9,
      description: 'null when the input is not a digit (see reason)',
    },
    confidence: { type: 'number', description: "the highest of the ten digits' probabilities" },
    probabilities: {
      type: 'array',
      items: { type: 'number' },
      minItems: 10,
      maxItems: 10,
      description: 'the probability of each digit 0-9 (calibrated); with notADigit they sum to 1 - notADigit',
    },
    notADigit: {
      type: 'number',
      description:
        'the probability that the picture is no digit at all (models trained with non-digits: their 11th output)',
    },
    set: {
      type: 'array',
      items: { type: 'integer', minimum: 0, maximum: 9 },
      maxItems: 10,
      description:
        "the prediction set: the digits, most likely first, that hold the true one with the run's coverage (99%, fitted on its validation split by split conformal prediction): [4] when sure, [4, 9] when unsure between them (also with a low-confidence null digit); [] when the picture is taken for no digit. Runs fitted before sets give the most likely digit alone",
    },
    reason: {
      type: 'string',
      description:
        "why digit is null: 'blank', 'too small', 'no dominant stroke', 'not a digit (…)' (the model's fitted rule), 'low confidence (…)'",
    },
    input: {
      type: 'array',
      items: { type: 'integer' },
      minItems: PIXELS,
      maxItems: PIXELS,
      description: 'with ?explain=1: the 28x28 image the model saw, 0-255, row by row',
    },
  },
} as const;

/** What the network computes inside for an input, one view (model/layer-views.ts's LayerViewJson). */
export const LAYER_VIEW = {
  type: 'object',
  required: ['kind', 'label', 'layer', 'shape', 'height', 'width', 'channels', 'lo', 'hi', 'factor', 'data'],
  properties: {
    kind: {
      type: 'string',
      enum: ['conv', 'pool', 'dense'],
      description: "'conv': feature maps; 'dense': a hidden layer's values",
    },
    label: { type: 'string', description: "e.g. 'conv 1'" },
    layer: { type: 'string', description: 'the layer name in the model' },
    after: { type: 'string', description: 'the layers folded into this view (activation, batch norm)' },
    shape: {
      type: 'array',
      items: { type: 'integer' },
      description: "the layer's output shape: [height, width, channels] or [units]",
    },
    height: { type: 'integer' },
    width: { type: 'integer' },
    channels: { type: 'integer' },
    lo: { type: 'number', description: 'each byte b stands for lo + b / 255 * (hi - lo)' },
    hi: { type: 'number' },
    factor: { type: 'integer', description: 'layer pixels per view pixel, per side (maps shrunk by their maximum)' },
    data: {
      type: 'string',
      contentEncoding: 'base64',
      description: 'base64 of channels*height*width bytes, map by map',
    },
  },
} as const;

/** GET /v1/model's answer (routes/model.ts). */
export const MODEL_INFO = {
  type: 'object',
  required: [
    'arch',
    'params',
    'testAccuracy',
    'testLoss',
    'preprocessing',
    'classNames',
    'inputShape',
    'minConfidence',
    'notADigitBelow',
    'sets',
    'temperature',
  ],
  properties: {
    arch: { type: 'string', description: 'the network (`train --arch`)' },
    params: { type: 'integer', description: 'trainable parameters' },
    testAccuracy: { type: ['number', 'null'], description: 'on the MNIST test set; null before the run is evaluated' },
    testLoss: { type: ['number', 'null'] },
    trainedAt: { type: 'string', description: 'when training finished (ISO 8601)' },
    epochs: { type: 'integer' },
    seed: { type: 'integer' },
    preprocessing: {
      type: 'object',
      additionalProperties: true,
      description: "the run's preprocessing spec: size, fit, centre, polarity, scale, offset",
    },
    classNames: { type: 'array', items: { type: 'string' } },
    inputShape: { type: 'array', items: { type: 'integer' } },
    minConfidence: { type: 'number', description: 'below it the answer is digit null' },
    notADigitBelow: { type: ['number', 'null'], description: "the run's fitted not-a-digit threshold, if it has one" },
    sets: {
      type: ['object', 'null'],
      additionalProperties: true,
      properties: {
        unsureBelow: {
          type: 'number',
          description: "answers whose top digit's share is below this are in the unsure group",
        },
        sure: { type: 'number', description: "the share another digit needs to join a sure answer's set" },
        unsure: { type: 'number', description: "the share another digit needs to join an unsure answer's set" },
      },
      description: "the run's prediction sets' thresholds; null when it has none",
    },
    temperature: { type: 'number', description: 'the calibration temperature every answer went through' },
    versions: {
      type: 'object',
      additionalProperties: true,
      description: 'versions of the code and libraries that trained the run',
    },
  },
} as const;

/** A `?name=1` switch. Any other value is off, as it always was: the schema documents and does not check. */
export const flag = (description: string) => ({ description }) as const;

/** A file in a request or answer, as OpenAPI shows it (`contentEncoding: binary` → `format: binary`); any body passes. */
export const BINARY = { contentEncoding: 'binary' } as const;

/** A 200 answer that is not JSON: its media type and what it is (`{}` for a string, BINARY for bytes). */
export const mediaAnswer = (type: string, description: string, schema: object = BINARY) => ({
  description,
  content: { [type]: { schema } },
});

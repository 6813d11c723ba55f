/**
 * POST /v1/corrections and GET /v1/corrections: "Wrong? It is a 7" from the page, filed into the
 * corrections folder of `serve --corrections DIR` (data/corrections.ts: named by content, bounded,
 * never outside DIR), which `mnist-cnn finetune` then learns from. Without a corrections folder,
 * GET says so (`enabled: false`: the page then keeps corrections in the browser) and POST is a 404.
 */
import type { FastifyPluginAsync } from 'fastify';
import {
  CORRECTION_LABELS,
  makeCorrection,
  type CorrectionLabel,
  type DrawnExtension,
} from '../../data/correction-files.js';
import { CorrectionLimitError, type CorrectionStore } from '../../data/corrections.js';
import { PIXELS } from '../../data/types.js';
import { sniffImageFormat } from '../../image/formats.js';
import { ApiError } from '../errors.js';
import { ERROR_RESPONSES } from '../schemas.js';

/** The picture as drawn, as the page sends it: formats a browser's canvas writes. */
const DRAWN_FORMATS: Readonly<Record<string, DrawnExtension>> = { png: 'png', jpeg: 'jpg', webp: 'webp' };

interface CorrectionBody {
  label: CorrectionLabel;
  /** The 28x28 bytes the model saw (the page's preprocessing of the drawing), row by row. */
  pixels: number[];
  /** The picture as drawn: a PNG, JPEG or WebP file, base64 (a data: URL prefix is accepted). */
  drawn?: string;
}

/** Base64 characters of a file of n bytes, and room for a data: URL prefix. */
const base64Length = (bytes: number) => 4 * Math.ceil(bytes / 3) + 64;

function correctionSchema(maxDrawnBytes: number) {
  return {
    type: 'object',
    required: ['label', 'pixels'],
    additionalProperties: false,
    properties: {
      label: {
        type: 'string',
        enum: [...CORRECTION_LABELS],
        description: 'what the picture is: a digit 0-9, or not-a-digit',
      },
      pixels: {
        type: 'array',
        minItems: PIXELS,
        maxItems: PIXELS,
        items: { type: 'integer', minimum: 0, maximum: 255 },
        description: `${PIXELS} values 0-255: the 28x28 image the model saw, white ink on black, row by row`,
      },
      drawn: {
        type: 'string',
        maxLength: base64Length(maxDrawnBytes),
        description: 'the picture as drawn: a PNG, JPEG or WebP file, base64 (a data: URL prefix is accepted)',
      },
    },
  };
}

const saved = {
  type: 'object',
  required: ['label', 'file', 'stored', 'count'],
  properties: {
    label: { type: 'string' },
    file: {
      type: 'string',
      description: "the correction's 28x28 PNG inside the folder, named by its content: 7/3f9c0a1e5b2d4c68.png",
    },
    stored: {
      type: 'boolean',
      description: 'false: the folder already held this very picture with this label (nothing written)',
    },
    relabelled: { type: 'string', description: 'the label the same picture had before (the latest label wins)' },
    count: { type: 'integer', description: 'corrections in the folder' },
  },
};

/** The drawn picture's bytes and extension, from base64 (or a data: URL). */
function drawnPicture(text: string): { bytes: Uint8Array; ext: DrawnExtension } {
  const dataUrl = /^data:[^,]*,/.exec(text);
  const payload = dataUrl ? text.slice(dataUrl[0].length) : text;
  if (!/^[A-Za-z0-9+/=\s_-]*$/.test(payload)) throw new ApiError(400, 'bad_image', 'drawn is not base64');
  const bytes = new Uint8Array(Buffer.from(payload, 'base64'));
  const format = sniffImageFormat(bytes);
  const ext = format === undefined ? undefined : DRAWN_FORMATS[format];
  if (!ext) throw new ApiError(415, 'unsupported_image_format', 'drawn must be a PNG, JPEG or WebP file');
  return { bytes, ext };
}

/** `{enabled, count, maxFiles}`: whether the server files corrections, and how many it holds and may hold. */
const status = {
  type: 'object',
  required: ['enabled'],
  properties: {
    enabled: {
      type: 'boolean',
      description: 'false: this server files no corrections (the page keeps them in the browser)',
    },
    count: { type: 'integer', description: 'corrections in the folder' },
    maxFiles: { type: 'integer', description: 'the most the folder may hold' },
  },
};

const getSchema = {
  summary: 'Whether the server files corrections (serve --corrections DIR), how many its folder holds and may hold',
  response: { 200: status },
};

export interface CorrectionRouteOptions {
  /** The opened corrections folder; none: the server files no corrections. */
  store?: CorrectionStore;
}

/** The corrections routes, over an opened store (none: GET says so and POST is a 404 `corrections_off`). */
export const correctionRoutes: FastifyPluginAsync<CorrectionRouteOptions> = async (app, { store }) => {
  const postSchema = (maxDrawnBytes: number) => ({
    summary:
      'File a correction ("it is a 7", or "not a digit") into the server\'s corrections folder, for `mnist-cnn finetune` (only with serve --corrections DIR; 404 `corrections_off` without; 507 `corrections_full` when the folder is at its limit)',
    body: correctionSchema(maxDrawnBytes),
    response: {
      200: { description: 'already filed with this label: nothing written', ...saved },
      201: { description: 'filed', ...saved },
      ...ERROR_RESPONSES,
    },
  });
  if (!store) {
    app.get('/v1/corrections', { schema: getSchema }, async () => ({ enabled: false }));
    app.post('/v1/corrections', { schema: postSchema(0) }, async () => {
      throw new ApiError(
        404,
        'corrections_off',
        'this server files no corrections: start it with serve --corrections DIR',
      );
    });
    return;
  }
  const maxDrawnBytes = store.limits.maxDrawnBytes;
  // A drawn picture and 784 numbers as JSON: well under the server's body limit, but never more than this.
  const bodyLimit = base64Length(maxDrawnBytes) + 8 * PIXELS + 1024;
  app.get('/v1/corrections', { schema: getSchema }, async () => ({
    enabled: true,
    count: store.count,
    maxFiles: store.limits.maxFiles,
  }));
  app.post('/v1/corrections', { bodyLimit, schema: postSchema(maxDrawnBytes) }, async (request, reply) => {
    const body = request.body as CorrectionBody;
    const drawn = body.drawn === undefined ? undefined : drawnPicture(body.drawn);
    if (drawn && drawn.bytes.length > maxDrawnBytes)
      throw new ApiError(
        413,
        'image_too_large',
        `the drawn picture is ${drawn.bytes.length} bytes, over the ${maxDrawnBytes} a correction may keep`,
      );
    try {
      const result = await store.add(makeCorrection(body.label, Uint8Array.from(body.pixels), drawn));
      return reply.status(result.stored ? 201 : 200).send({
        label: result.label,
        file: result.path,
        stored: result.stored,
        ...(result.relabelled ? { relabelled: result.relabelled } : {}),
        count: store.count,
      });
    } catch (err) {
      if (err instanceof CorrectionLimitError) throw new ApiError(507, 'corrections_full', err.message);
      throw err;
    }
  });
};

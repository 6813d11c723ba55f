import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { MODEL_FILE, WEIGHTS_FILE } from '../../model/model-files.js';
import type { RunMetadata } from '../../model/run.js';
import type { Predictor } from '../../predict/predictor.js';
import { UserError } from '../../util/errors.js';
import { ApiError } from '../errors.js';
import { BINARY, ERROR_RESPONSES, MODEL_INFO } from '../schemas.js';

/** GET /v1/model's answer: what is served, and the answer rule the page applies in its in-browser mode. */
export function modelInfo(predictor: Predictor, meta: RunMetadata) {
  return {
    arch: meta.arch,
    params: meta.params,
    testAccuracy: meta.test?.accuracy ?? null,
    testLoss: meta.test?.loss ?? null,
    trainedAt: meta.finishedAt ?? meta.createdAt,
    epochs: meta.epochsCompleted,
    seed: meta.seed,
    preprocessing: predictor.spec,
    classNames: meta.classNames,
    inputShape: meta.inputShape,
    minConfidence: predictor.rule.minConfidence,
    notADigitBelow: predictor.rule.notADigitBelow ?? null,
    // The prediction sets' thresholds (interpret.ts SetRule): the in-browser mode's answers carry the same sets.
    sets: predictor.rule.sets ?? null,
    // The calibration temperature every answer's probabilities went through: the page's in-browser mode applies it too.
    temperature: predictor.temperature,
    versions: meta.versions,
  };
}

/**
 * GET /v1/model (what is served: arch, test figures, the preprocessing spec, calibration
 * temperature and answer rule the page applies in its in-browser mode) and /model/:file (the model files for that mode).
 */
export const modelRoutes: FastifyPluginAsync<{ predictor: Predictor }> = async (app, { predictor }) => {
  const meta = predictor.metadata;
  if (!meta) throw new UserError('the model routes need a model loaded from a run folder (Predictor.load)');
  const summary = 'The served model: arch, test accuracy, when it was trained, preprocessing';
  const answer = modelInfo(predictor, meta);
  app.get(
    '/v1/model',
    { schema: { summary, response: { 200: { description: 'model metadata', ...MODEL_INFO } } } },
    async () => answer,
  );

  // The model files, for the page's in-browser mode (tf.loadLayersModel('/model/model.json')).
  // A Map, not an object: `/model/__proto__` must find nothing.
  const modelFiles = new Map<string, Buffer>([
    [MODEL_FILE, readFileSync(join(predictor.dir, MODEL_FILE))],
    [WEIGHTS_FILE, readFileSync(join(predictor.dir, WEIGHTS_FILE))],
  ]);
  const schema = {
    summary: "The model's files, for the page's in-browser mode",
    params: {
      type: 'object',
      properties: { file: { type: 'string', description: [...modelFiles.keys()].join(' or ') } },
    },
    response: {
      200: {
        description: `${MODEL_FILE} (JSON) or ${WEIGHTS_FILE} (the weights)`,
        content: {
          'application/json': { schema: { type: 'object', additionalProperties: true } },
          'application/octet-stream': { schema: BINARY },
        },
      },
      ...ERROR_RESPONSES,
    },
  };
  app.get('/model/:file', { schema }, async (request: FastifyRequest<{ Params: { file: string } }>, reply) => {
    const file = modelFiles.get(request.params.file);
    if (!file) throw new ApiError(404, 'not_found', `no model file ${request.params.file}`);
    return reply
      .type(request.params.file.endsWith('.json') ? 'application/json' : 'application/octet-stream')
      .send(file);
  });
};

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { MODEL_FILE, WEIGHTS_FILE } from '../../model/model-files.js';
import type { RunMetadata } from '../../model/run.js';
import type { Predictor } from '../../predict/predictor.js';
import { ApiError } from '../errors.js';

/**
 * GET /v1/model (what is served: arch, test figures, the preprocessing spec, calibration
 * temperature and answer rule the page applies in its in-browser mode) and /model/:file (the model files for that mode).
 */
export function registerModelRoutes(app: FastifyInstance, predictor: Predictor, meta: RunMetadata): void {
  app.get('/v1/model', async () => ({
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
  }));

  // The model files, for the page's in-browser mode (tf.loadLayersModel('/model/model.json')).
  // A Map, not an object: `/model/__proto__` must find nothing.
  const modelFiles = new Map<string, Buffer>([
    [MODEL_FILE, readFileSync(join(predictor.dir, MODEL_FILE))],
    [WEIGHTS_FILE, readFileSync(join(predictor.dir, WEIGHTS_FILE))],
  ]);
  app.get('/model/:file', async (request: FastifyRequest<{ Params: { file: string } }>, reply) => {
    const file = modelFiles.get(request.params.file);
    if (!file) throw new ApiError(404, 'not_found', `no model file ${request.params.file}`);
    return reply.type(request.params.file.endsWith('.json') ? 'application/json' : 'application/octet-stream').send(file);
  });
}

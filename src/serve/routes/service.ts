import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { ApiError, errorBody } from '../errors.js';
import type { ServerMetrics } from '../metrics.js';
import { mediaAnswer } from '../schemas.js';

/** Where a server is in its life, as its probes say it. */
export type ServerPhase = 'starting' | 'ready' | 'draining';

/** A probe's answer: status and JSON body. */
export interface ProbeAnswer {
  status: number;
  body: object;
}

/**
 * The answer of a probe path (GET or HEAD) in each phase, the one source for the routes below,
 * the server while it starts (`answerWhileStarting`) and the connection cap (hardening.ts), which
 * answers probes itself when every connection is taken. Liveness is 200 in every phase;
 * readiness is 200 only once the model is loaded and warmed and until the server drains.
 * Undefined for a path that is not a probe.
 */
export function probeAnswer(path: string, phase: ServerPhase): ProbeAnswer | undefined {
  switch (path) {
    case '/healthz':
      return { status: 200, body: { status: 'ok' } };
    case '/v2/health/live':
      return { status: 200, body: { live: true } };
    case '/readyz':
      return phase === 'ready' ? { status: 200, body: { status: 'ready' } } : { status: 503, body: { status: phase } };
    case '/v2/health/ready':
      return { status: phase === 'ready' ? 200 : 503, body: { ready: phase === 'ready' } };
    default:
      return undefined;
  }
}

export interface ServiceOptions {
  metrics: ServerMetrics;
  /** True once the server drains: /readyz answers 503. */
  isDraining: () => boolean;
}

const status = (values: string[]) => ({
  type: 'object',
  required: ['status'],
  properties: { status: { type: 'string', enum: values } },
});

/**
 * GET /healthz (liveness: the process answers), /readyz (readiness: the model is loaded and
 * warmed, and the server is not draining) and /metrics (Prometheus). Before the model is loaded
 * and warmed the server already listens, and `answerWhileStarting` answers in their place: a
 * probe tells "starting" from "gone".
 */
export const serviceRoutes: FastifyPluginAsync<ServiceOptions> = async (app, { metrics, isDraining }) => {
  const probe = (path: string) => async (_request: unknown, reply: FastifyReply) => {
    const answer = probeAnswer(path, isDraining() ? 'draining' : 'ready') as ProbeAnswer;
    if (answer.status === 503) void reply.header('retry-after', '1');
    return reply.status(answer.status).send(answer.body);
  };
  app.get(
    '/healthz',
    { schema: { summary: 'Liveness', response: { 200: { description: 'the process answers', ...status(['ok']) } } } },
    probe('/healthz'),
  );
  const readiness = {
    summary: 'Readiness: 200 once the model is loaded and warmed, 503 while starting or draining',
    response: {
      200: { description: 'ready', ...status(['ready']) },
      503: { description: 'starting or draining (Retry-After: 1)', ...status(['starting', 'draining']) },
    },
  };
  app.get('/readyz', { schema: readiness }, probe('/readyz'));
  const scrape = {
    summary:
      'Prometheus metrics: requests, latency, model calls (batch size, queue wait), requests in flight, refusals, the process (event loop, heap, GC, CPU), tensors in memory',
    response: { 200: mediaAnswer('text/plain', 'the Prometheus text format, version 0.0.4', { type: 'string' }) },
  };
  app.get('/metrics', { schema: scrape }, async (_request, reply) =>
    reply.type(METRICS_CONTENT_TYPE).send(await metrics.render()),
  );
};

/** The Prometheus text format's media type. */
const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * Every request while the server starts (listening, its model not yet loaded and warmed; server.ts
 * hands the server to the app once it is): the probes answer as `probeAnswer` says for
 * 'starting' (liveness 200, readiness 503), and any other route 503 `starting` with Retry-After,
 * in the error shape of its API (`{"error": "..."}` on /v2). Load balancers and Kubernetes send
 * nothing until /readyz turns 200.
 */
export function answerWhileStarting(request: IncomingMessage, response: ServerResponse): void {
  const path = (request.url ?? '/').split('?')[0];
  const get = request.method === 'GET' || request.method === 'HEAD';
  const send = (status: number, body: unknown) => {
    const text = JSON.stringify(body);
    response.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(text),
      'x-content-type-options': 'nosniff',
      ...(status === 503 ? { 'retry-after': '1' } : {}),
    });
    response.end(request.method === 'HEAD' ? undefined : text);
  };
  // The body is not read: drop it, so that the answer is not reset away by a half-read request.
  request.resume();
  const probe = get ? probeAnswer(path, 'starting') : undefined;
  if (probe) return send(probe.status, probe.body);
  const message = 'the server is starting (loading and warming its model): retry in a second';
  send(
    503,
    path === '/v2' || path.startsWith('/v2/') ? { error: message } : errorBody(new ApiError(503, 'starting', message)),
  );
}

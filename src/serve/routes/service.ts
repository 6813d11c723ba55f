import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { ApiError, errorBody } from '../errors.js';
import type { ServerMetrics } from '../metrics.js';
import { docsPage, OPENAPI } from '../openapi.js';

/**
 * GET /healthz (liveness: the process answers), /readyz (readiness: the model is loaded and
 * warmed, and the server is not draining), /metrics (Prometheus), /openapi.json and /docs.
 * Before the model is loaded and warmed the server already listens, and `answerWhileStarting`
 * answers in their place: a probe tells "starting" from "gone".
 */
export function registerServiceRoutes(app: FastifyInstance, metrics: ServerMetrics, isDraining: () => boolean): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    if (isDraining()) return reply.status(503).header('retry-after', '1').send({ status: 'draining' });
    return { status: 'ready' };
  });
  app.get('/metrics', async (_request, reply) => {
    void reply.type('text/plain; version=0.0.4; charset=utf-8');
    return metrics.render();
  });
  app.get('/openapi.json', async () => OPENAPI);
  app.get('/docs', async (_request, reply) => reply.type('text/html; charset=utf-8').send(docsPage()));
}

/**
 * Every request while the server starts (listening, its model not yet loaded and warmed; server.ts
 * hands the server to the app once it is): liveness says alive (/healthz, /v2/health/live: 200),
 * readiness says not yet (/readyz `{"status": "starting"}`, /v2/health/ready: 503), and any other
 * route 503 `starting` with Retry-After, in the error shape of its API (`{"error": "..."}` on /v2).
 * Load balancers and Kubernetes send nothing until /readyz turns 200.
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
  if (get && path === '/healthz') return send(200, { status: 'ok' });
  if (get && path === '/readyz') return send(503, { status: 'starting' });
  if (get && path === '/v2/health/live') return send(200, { live: true });
  if (get && path === '/v2/health/ready') return send(503, { ready: false });
  const message = 'the server is starting (loading and warming its model): retry in a second';
  send(503, path === '/v2' || path.startsWith('/v2/') ? { error: message } : errorBody(new ApiError(503, 'starting', message)));
}

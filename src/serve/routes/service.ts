import type { FastifyInstance } from 'fastify';
import type { ServerMetrics } from '../metrics.js';
import { docsPage, OPENAPI } from '../openapi.js';

/**
 * GET /healthz (liveness: the process answers), /readyz (readiness: the model is loaded and
 * warmed, and the server is not draining), /metrics (Prometheus), /openapi.json and /docs.
 * The server listens only once its model is warmed, so before that a probe finds no port.
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

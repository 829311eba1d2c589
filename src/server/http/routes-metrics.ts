import type { FastifyPluginAsync } from 'fastify';
import type { ServerContext } from '../context.ts';
import { rule } from './route-acl.ts';

/** `GET /v1/metrics`: Prometheus text format. State gauges are computed at scrape time. */
export function metricsRoutes(ctx: ServerContext): FastifyPluginAsync {
  return async (app) => {
    app.get('/v1/metrics', { config: rule('operator', 'read') }, async (_request, reply) => {
      const { metrics, view } = ctx;
      metrics.nodes.reset();
      for (const n of view.nodes()) metrics.nodes.inc({ status: n.status });
      metrics.allocs.reset();
      for (const a of view.allocs()) metrics.allocs.inc({ status: a.clientStatus });
      metrics.jobs.set(view.jobs().length);
      metrics.stateIndex.set(view.index);
      reply.header('content-type', metrics.registry.contentType);
      return metrics.registry.metrics();
    });
  };
}

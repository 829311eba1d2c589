import type { FastifyPluginAsync } from 'fastify';
import type { ServerContext } from '../context.ts';
import { rule } from './route-acl.ts';
import { TABLES } from '../../state/index.ts';
import { stateFileBytes } from '../timed-backend.ts';

/** `GET /v1/metrics`: Prometheus text format. State gauges are computed at scrape time. */
export function metricsRoutes(ctx: ServerContext): FastifyPluginAsync {
  return async (app) => {
    app.get('/v1/metrics', { config: rule('operator', 'read') }, async (_request, reply) => {
      const { metrics, view } = ctx;
      metrics.nodes.reset();
      for (const n of view.nodes()) metrics.nodes.inc({ status: n.status });
      metrics.allocs.reset();
      for (const a of view.allocs()) metrics.allocs.inc({ status: a.clientStatus });
      metrics.deployments.reset();
      for (const d of view.deployments()) metrics.deployments.inc({ status: d.status });
      metrics.blockedEvals.set(view.evals().filter((e) => e.status === 'blocked').length);
      metrics.jobs.set(view.jobs().length);
      metrics.stateIndex.set(view.index);
      for (const table of TABLES) metrics.stateRows.set({ table }, view.rowCount(table));
      const bytes = await stateFileBytes(ctx.backend);
      if (bytes !== undefined) metrics.stateFileBytes.set(bytes);
      metrics.leader.set(ctx.cluster.isLeader ? 1 : 0);
      reply.header('content-type', metrics.registry.contentType);
      return metrics.scrape();
    });
  };
}

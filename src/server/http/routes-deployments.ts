import type { FastifyPluginAsync } from 'fastify';
import { Type } from '@sinclair/typebox';
import { BlockingQuerySchema } from '../../api/index.ts';
import type { ServerContext } from '../context.ts';
import { blockingQuery } from './blocking.ts';
import { actOnDeployment, findDeployment, setAllocHealth, type DeploymentAction } from '../rollout/index.ts';
import { mayRead } from './acl-guard.ts';
import { onDeploymentJob, onJob, perObject } from './route-acl.ts';

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 256 }) });
const ACTIONS: DeploymentAction[] = ['promote', 'fail', 'pause', 'resume'];

/** `/v1/deployments` and `/v1/jobs/:id/deployment(s)`: read deployments and act on them. */
// eslint-disable-next-line max-lines-per-function -- a route table: one short handler per route
export function deploymentRoutes(ctx: ServerContext): FastifyPluginAsync {
  // eslint-disable-next-line max-lines-per-function -- a route table: one short handler per route
  return async (app) => {
    app.get('/v1/deployments', { schema: { querystring: BlockingQuerySchema }, config: perObject('jobs') }, async (request, reply) => {
      await blockingQuery(ctx.view, request, reply, () => ctx.view.tableIndex('deployments'));
      return ctx.view.deployments().filter((d) => mayRead(request, 'jobs', d.jobId)).sort((a, b) => b.createTime - a.createTime);
    });

    app.get('/v1/deployments/:id', { schema: { params: IdParams, querystring: BlockingQuerySchema }, config: onDeploymentJob(ctx.view, 'read') }, async (request, reply) => {
      const { id } = request.params as { id: string };
      const full = findDeployment(ctx.view, id).id;
      await blockingQuery(ctx.view, request, reply, () => ctx.view.modRevision('deployments', full));
      return findDeployment(ctx.view, full);
    });

    app.get('/v1/jobs/:id/deployments', { schema: { params: IdParams }, config: onJob('read') }, async (request) => {
      const { id } = request.params as { id: string };
      ctx.jobs.get(id);
      return ctx.view.deploymentsByJob(id);
    });

    app.get('/v1/jobs/:id/deployment', { schema: { params: IdParams, querystring: BlockingQuerySchema }, config: onJob('read') }, async (request, reply) => {
      const { id } = request.params as { id: string };
      ctx.jobs.get(id);
      await blockingQuery(ctx.view, request, reply, () => ctx.view.tableIndex('deployments'));
      return ctx.view.latestDeployment(id) ?? null;
    });

    app.post(
      '/v1/jobs/:id/scale',
      { schema: { params: IdParams, body: Type.Object({ group: Type.Optional(Type.String()), count: Type.Integer({ minimum: 0, maximum: 10_000 }) }) }, config: onJob('scale') },
      async (request, reply) => {
        const { id } = request.params as { id: string };
        const { group, count } = request.body as { group?: string; count: number };
        const result = await ctx.jobs.scale(id, group, count);
        reply.header('x-berth-index', String(result.index));
        return result;
      },
    );

    app.post(
      '/v1/jobs/:id/restart',
      { schema: { params: IdParams, body: Type.Object({ allocIds: Type.Array(Type.String(), { minItems: 1, maxItems: 10_000 }) }) }, config: onJob('alloc-lifecycle') },
      async (request, reply) => {
        const { id } = request.params as { id: string };
        const { allocIds } = request.body as { allocIds: string[] };
        const result = await ctx.jobs.restartAllocs(id, allocIds);
        reply.header('x-berth-index', String(result.index));
        return result;
      },
    );

    app.post(
      '/v1/deployments/:id/allocation-health',
      { schema: { params: IdParams, body: Type.Object({ healthy: Type.Optional(Type.Array(Type.String())), unhealthy: Type.Optional(Type.Array(Type.String())) }) }, config: onDeploymentJob(ctx.view, 'write') },
      async (request) => {
        const { id } = request.params as { id: string };
        const { healthy, unhealthy } = request.body as { healthy?: string[]; unhealthy?: string[] };
        return setAllocHealth(ctx, { id, healthy: healthy ?? [], unhealthy: unhealthy ?? [] });
      },
    );

    for (const action of ACTIONS) {
      app.post(
        `/v1/deployments/:id/${action}`,
        { schema: { params: IdParams, body: Type.Optional(Type.Object({ groups: Type.Optional(Type.Array(Type.String())) })) }, config: onDeploymentJob(ctx.view, 'write') },
        async (request, reply) => {
          const { id } = request.params as { id: string };
          const body = (request.body ?? {}) as { groups?: string[] };
          const result = await actOnDeployment(ctx, { id, action, groups: body.groups });
          reply.header('x-berth-index', String(result.index));
          return result;
        },
      );
    }
  };
}

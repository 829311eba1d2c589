import type { FastifyPluginAsync } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { ServerContext } from '../context.ts';
import { dispatchJob, type DispatchRequest, observeRun, upcoming } from '../periodic/index.ts';
import type { JobGraph } from '../../api/index.ts';
import { mayRead } from './acl-guard.ts';
import { graphDot, jobGraph, markSuccess } from '../dependencies/index.ts';
import { onJob, perObject } from './route-acl.ts';

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 256 }) });

/** Periodic, parameterized and dependent jobs: graph, runs, force, dispatch, mark-success. */
export function periodicRoutes(ctx: ServerContext): FastifyPluginAsync {
  return async (app) => {
    app.get('/v1/jobs/graph', { schema: { querystring: Type.Object({ format: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('dot')])) }) }, config: perObject('jobs') }, async (request, reply) => {
      const { format } = request.query as { format?: 'json' | 'dot' };
      const graph = visibleGraph(jobGraph(ctx.view), (id) => mayRead(request, 'jobs', id));
      if (format !== 'dot') return graph;
      reply.type('text/vnd.graphviz; charset=utf-8');
      return graphDot(graph);
    });

    app.get('/v1/jobs/:id/runs', { schema: { params: IdParams, querystring: Type.Object({ next: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })) }) }, config: onJob('read') }, async (request) => {
      const { id } = request.params as { id: string };
      const { next } = request.query as { next?: number };
      const job = ctx.jobs.get(id);
      const runs = ctx.view.runsByJob(id).map((r) => observeRun(ctx.view, r));
      return { jobId: id, runs: runs.reverse(), next: upcoming(ctx.view, job, next ?? 5) };
    });

    app.post(
      '/v1/jobs/:id/mark-success',
      { schema: { params: IdParams, body: Type.Optional(Type.Object({ run: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })) }, { additionalProperties: false })) }, config: onJob('write') },
      async (request) => {
        const { id } = request.params as { id: string };
        const { run } = (request.body ?? {}) as { run?: string };
        return markSuccess(ctx, { jobId: id, run, by: callerName(ctx, request.identity.accessorId) });
      },
    );

    app.post('/v1/jobs/:id/periodic/force', { schema: { params: IdParams }, config: onJob('write') }, async (request) => {
      const { id } = request.params as { id: string };
      return ctx.periodic.force(id);
    });

    app.post(
      '/v1/jobs/:id/dispatch',
      {
        schema: {
          params: IdParams,
          body: Type.Object(
            {
              meta: Type.Optional(Type.Record(Type.String(), Type.String())),
              payload: Type.Optional(Type.String({ maxLength: 64 * 1024 })),
              idempotencyToken: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
            },
            { additionalProperties: false },
          ),
        },
        config: onJob('dispatch'),
      },
      async (request) => {
        const { id } = request.params as { id: string };
        return dispatchJob(ctx, id, (request.body ?? {}) as DispatchRequest);
      },
    );
  };
}

/** Who a request is, for records: the token's description and accessor, or `anonymous`. */
function callerName(ctx: ServerContext, accessorId: string | undefined): string {
  if (accessorId === undefined) return 'anonymous (ACLs off)';
  const description = ctx.view.aclToken(accessorId)?.description;
  return description ? `${description} (${accessorId})` : accessorId;
}

/** The part of the job graph a token may read: the jobs it may read and the edges between them. */
function visibleGraph(graph: JobGraph, visible: (jobId: string) => boolean): JobGraph {
  return { nodes: graph.nodes.filter((n) => visible(n.id)), edges: graph.edges.filter((e) => visible(e.from) && visible(e.to)) };
}

import type { FastifyPluginAsync } from 'fastify';
import { Type } from '@sinclair/typebox';
import { BerthError } from '../../model/index.ts';
import { AllocUpdateSchema, BlockingQuerySchema, NodeRegisterSchema, type AllocUpdateBody, type NodeRegisterBody } from '../../api/index.ts';
import type { ServerContext } from '../context.ts';
import { blockingQuery } from './blocking.ts';
import { lastHeartbeats, withHeartbeat } from './node-heartbeats.ts';
import { credentialsOf } from './leader-forward.ts';
import { mayRead, NODE_SECRET_HEADER } from './acl-guard.ts';
import { NODE_REGISTRATION, nodeAgent, onNode, perObject } from './route-acl.ts';

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 256 }) });

/** `/v1/nodes`: what agents call (register, heartbeat, allocations) and what people read. */
// eslint-disable-next-line max-lines-per-function -- a route table: one short handler per route
export function nodeRoutes(ctx: ServerContext): FastifyPluginAsync {
  // eslint-disable-next-line max-lines-per-function -- a route table: one short handler per route
  return async (app) => {
    app.get('/v1/nodes', { schema: { querystring: BlockingQuerySchema }, config: perObject('nodes') }, async (request, reply) => {
      await blockingQuery(ctx.view, request, reply, () => ctx.view.tableIndex('nodes'));
      const seen = await lastHeartbeats(ctx, credentialsOf(request.headers));
      return [...ctx.view.nodes()].filter((n) => mayRead(request, 'nodes', n.name)).sort((a, b) => a.name.localeCompare(b.name)).map((n) => withHeartbeat(n, seen));
    });

    // The leader's in-memory record of the last heartbeat of each node: {nodeId: ms since the epoch}.
    app.get('/v1/nodes/heartbeats', { config: perObject('nodes') }, async () => ctx.nodes.lastHeartbeats());

    app.put('/v1/nodes/register', { schema: { body: NodeRegisterSchema }, config: NODE_REGISTRATION }, async (request, reply) => {
      const secret = request.headers[NODE_SECRET_HEADER];
      const result = await ctx.nodes.register(request.body as NodeRegisterBody, typeof secret === 'string' ? secret : undefined);
      reply.header('x-berth-index', String(result.index));
      return result;
    });

    app.get('/v1/nodes/:id', { schema: { params: IdParams }, config: onNode(ctx.view, 'read') }, async (request, reply) => {
      const { id } = request.params as { id: string };
      const node = ctx.view.node(id);
      if (!node) throw new BerthError('not_found', `Cannot find node "${id}": no such node (see \`berth node status\`)`);
      reply.header('x-berth-index', String(ctx.view.modRevision('nodes', id)));
      return withHeartbeat(node, await lastHeartbeats(ctx, credentialsOf(request.headers)));
    });

    app.put(
      '/v1/nodes/:id/drain',
      {
        schema: {
          params: IdParams,
          body: Type.Object(
            {
              enable: Type.Boolean(),
              deadlineMs: Type.Optional(Type.Integer({ minimum: 0 })),
              ignoreSystem: Type.Optional(Type.Boolean()),
            },
            { additionalProperties: false },
          ),
        },
        config: onNode(ctx.view, 'write'),
      },
      async (request, reply) => {
        const { id } = request.params as { id: string };
        const result = await ctx.nodes.setDrain(id, request.body as { enable: boolean; deadlineMs?: number; ignoreSystem?: boolean });
        reply.header('x-berth-index', String(result.index));
        return result;
      },
    );

    app.put(
      '/v1/nodes/:id/eligibility',
      { schema: { params: IdParams, body: Type.Object({ eligible: Type.Boolean() }, { additionalProperties: false }) }, config: onNode(ctx.view, 'write') },
      async (request, reply) => {
        const { id } = request.params as { id: string };
        const result = await ctx.nodes.setEligibility(id, (request.body as { eligible: boolean }).eligible);
        reply.header('x-berth-index', String(result.index));
        return result;
      },
    );

    app.put('/v1/nodes/:id/heartbeat', { schema: { params: IdParams }, config: nodeAgent() }, async (request) => {
      const { id } = request.params as { id: string };
      return ctx.nodes.heartbeat(id);
    });

    app.get('/v1/nodes/:id/allocations', { schema: { params: IdParams, querystring: BlockingQuerySchema }, config: nodeAgent({ scope: 'nodes', cap: 'read' }) }, async (request, reply) => {
      const { id } = request.params as { id: string };
      if (!ctx.view.node(id)) throw new BerthError('not_found', `Cannot list allocations of node "${id}": no such node`);
      await blockingQuery(ctx.view, request, reply, () => ctx.view.nodeAllocsIndex(id));
      return ctx.view.allocsByNode(id);
    });

    app.put('/v1/nodes/:id/allocations', { schema: { params: IdParams, body: AllocUpdateSchema }, config: nodeAgent() }, async (request, reply) => {
      const { id } = request.params as { id: string };
      const index = await ctx.nodes.updateAllocs(id, (request.body as AllocUpdateBody).allocs);
      reply.header('x-berth-index', String(index));
      return { index };
    });
  };
}

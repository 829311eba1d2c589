import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import { BerthError } from '../../model/index.ts';
import type { ServerContext } from '../context.ts';
import { IN_HANDLER, perObject, rule } from './route-acl.ts';
import { mayRead, NODE_ID_HEADER, NODE_SECRET_HEADER } from './acl-guard.ts';
import { blockingQuery } from './blocking.ts';

const pathOf = (request: FastifyRequest): string => (request.params as { '*'?: string })['*'] ?? '';
const CasQuery = Type.Object({ cas: Type.Optional(Type.Integer({ minimum: 0 })) });
// Item names and values are checked by the service (every problem with its path); the body limit caps the size.
const PutBody = Type.Object({ items: Type.Record(Type.String(), Type.Unknown()) }, { additionalProperties: false });
const GetQuery = Type.Object({ index: Type.Optional(Type.Integer({ minimum: 0 })), wait: Type.Optional(Type.String({ maxLength: 16 })) });
const ListQuery = Type.Object({ prefix: Type.Optional(Type.String({ maxLength: 256 })) });
const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });

/**
 * Variables (`/v1/var/<path>`, `/v1/vars?prefix=`), the keyring (`/v1/operator/keyring`), and the
 * workload identity an agent fetches for each of its allocations.
 */
export function variableRoutes(ctx: ServerContext): FastifyPluginAsync {
  return async (app) => {
    // A blocking read (`?index=N&wait=`) wakes on any change of the variables table (templates follow variables so).
    app.get('/v1/var/*', { schema: { querystring: GetQuery }, config: rule('variables', 'read', pathOf) }, async (request, reply) => {
      await blockingQuery(ctx.view, request, reply, () => ctx.view.tableIndex('variables'));
      return ctx.variables.get(pathOf(request));
    });
    app.put('/v1/var/*', { schema: { querystring: CasQuery, body: PutBody }, config: rule('variables', 'write', pathOf) }, async (request, reply) => {
      const { cas } = request.query as { cas?: number };
      const variable = await ctx.variables.put(pathOf(request), (request.body as { items: unknown }).items, cas);
      void reply.header('x-berth-index', String(variable.modifyIndex));
      return variable;
    });
    app.delete('/v1/var/*', { schema: { querystring: CasQuery }, config: rule('variables', 'write', pathOf) }, async (request) => {
      const { cas } = request.query as { cas?: number };
      await ctx.variables.delete(pathOf(request), cas);
      return { deleted: pathOf(request) };
    });
    // Metadata only; filtered to the paths the token may list.
    app.get('/v1/vars', { schema: { querystring: ListQuery }, config: perObject('variables', 'list') }, async (request, reply) => {
      const { prefix = '' } = request.query as { prefix?: string };
      void reply.header('x-berth-index', String(ctx.view.tableIndex('variables')));
      return ctx.variables.list(prefix, (path) => mayRead(request, 'variables', path, 'list'));
    });

    app.get('/v1/operator/keyring', { config: rule('operator', 'read') }, async () => ctx.keyring.list());
    app.put('/v1/operator/keyring/rotate', { config: rule('operator', 'write') }, async () => ctx.keyring.rotate());

    // Only the agent of the allocation's node, by its node secret, gets the allocation's token.
    app.get('/v1/allocations/:id/identity', { schema: { params: IdParams }, config: IN_HANDLER }, async (request) => {
      const { id } = request.params as { id: string };
      const nodeId = request.headers[NODE_ID_HEADER];
      const secret = request.headers[NODE_SECRET_HEADER];
      const alloc = ctx.view.alloc(id);
      const agent = typeof nodeId === 'string' && typeof secret === 'string' && ctx.nodes.checkSecret(nodeId, secret);
      if (!agent || !alloc || alloc.nodeId !== nodeId) {
        throw new BerthError('forbidden', `Permission denied: only the agent of the node that runs allocation ${id} may fetch its workload identity (headers ${NODE_ID_HEADER} and ${NODE_SECRET_HEADER})`);
      }
      return { allocId: id, token: ctx.workloadIdentities.tokenFor(id) };
    });
  };
}

import type { FastifyPluginAsync } from 'fastify';
import { BlockingQuerySchema, type IngressStatus } from '../../api/index.ts';
import type { ServerContext } from '../context.ts';
import { ingressIndex, ingressStatus } from '../jobs/index.ts';
import { blockingQuery } from './blocking.ts';
import { mayRead } from './acl-guard.ts';
import { perObject } from './route-acl.ts';

/** `GET /v1/ingress`: the ingress routes, their services' instances and health, the ingress nodes (a blocking query). */
export function ingressRoutes(ctx: ServerContext): FastifyPluginAsync {
  return async (app) => {
    app.get('/v1/ingress', { schema: { querystring: BlockingQuerySchema }, config: perObject('services') }, async (request, reply): Promise<IngressStatus> => {
      await blockingQuery(ctx.view, request, reply, () => ingressIndex(ctx.view));
      return ingressStatus(ctx.view, ctx.discovery.catalog, (service) => mayRead(request, 'services', service));
    });
  };
}

import type { FastifyPluginAsync } from 'fastify';
import type { ServiceAddress } from '../../model/index.ts';
import { BlockingQuerySchema } from '../../api/index.ts';
import type { ServerContext } from '../context.ts';
import { addressesByService } from '../jobs/index.ts';
import { blockingQuery } from './blocking.ts';
import { mayRead } from './acl-guard.ts';
import { perObject } from './route-acl.ts';

/**
 * `GET /v1/service-addresses`: each service's address and ports, by name (a blocking query): what
 * every agent listens on and its DNS answers.
 */
export function serviceAddressRoutes(ctx: ServerContext): FastifyPluginAsync {
  return async (app) => {
    app.get('/v1/service-addresses', { schema: { querystring: BlockingQuerySchema }, config: perObject('services') }, async (request, reply): Promise<ServiceAddress[]> => {
      await blockingQuery(ctx.view, request, reply, () => ctx.view.tableIndex('serviceAddresses'));
      return [...addressesByService(ctx.view.serviceAddresses()).values()].filter((a) => mayRead(request, 'services', a.service)).sort((a, b) => a.service.localeCompare(b.service));
    });
  };
}

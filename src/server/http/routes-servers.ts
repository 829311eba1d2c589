import type { FastifyPluginAsync } from 'fastify';
import type { ServerListEntry } from '../../api/index.ts';
import type { ServerContext } from '../context.ts';
import { PUBLIC } from './route-acl.ts';

/** `GET /v1/servers`: every live server, the leader marked. */
export function serverRoutes(ctx: ServerContext): FastifyPluginAsync {
  return async (app) => {
    // Public: clients and agents learn the other servers from it, as Consul's /v1/status/peers.
    app.get('/v1/servers', { config: PUBLIC }, async (): Promise<ServerListEntry[]> => {
      const cluster = ctx.cluster;
      const leader = cluster.leader?.name;
      return cluster.members().map((m) => ({
        name: m.name,
        url: m.url,
        address: m.address,
        startedAt: new Date(m.startedAt).toISOString(),
        leader: m.name === leader,
        self: m.name === cluster.self.name,
      }));
    });
  };
}

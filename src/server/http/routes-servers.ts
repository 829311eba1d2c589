import type { FastifyPluginAsync } from 'fastify';
import type { GcResponse, ServerListEntry } from '../../api/index.ts';
import type { ServerContext } from '../context.ts';
import { PUBLIC, rule } from './route-acl.ts';

/** `GET /v1/servers`: every live server, the leader marked; `PUT /v1/system/gc`: collect garbage now. */
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

    // The leader's collector, thresholds ignored (Nomad's `system gc`); forwarded to the leader.
    app.put('/v1/system/gc', { config: rule('operator', 'write') }, async (): Promise<GcResponse> => ctx.gc.collect(true));
  };
}

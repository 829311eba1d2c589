import type { FastifyPluginAsync } from 'fastify';
import type { ServerContext } from '../context.ts';

/** One server, as `GET /v1/servers` lists it. */
export interface ServerListEntry {
  name: string;
  /** Its HTTP API. */
  url: string;
  /** The address of its discovery node. */
  address: string;
  /** When it started (RFC 3339). */
  startedAt: string;
  /** True for the leader. */
  leader: boolean;
  /** True for the server that answered. */
  self: boolean;
}

/** `GET /v1/servers`: every live server, the leader marked. */
export function serverRoutes(ctx: ServerContext): FastifyPluginAsync {
  return async (app) => {
    app.get('/v1/servers', async (): Promise<ServerListEntry[]> => {
      const cluster = ctx.cluster;
      if (!cluster) return [];
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

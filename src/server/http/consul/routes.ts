/** Every Consul route, under what they all share. */
import type { FastifyPluginAsync } from 'fastify';
import type { ServerContext } from '../../context.ts';
import { refuseUnknownDatacenter } from './conventions.ts';
import { consulAgentRoutes } from './routes-agent.ts';
import { consulCatalogRoutes } from './routes-catalog.ts';
import { consulHealthRoutes } from './routes-health.ts';
import { consulKvRoutes } from './routes-kv.ts';
import { consulSessionRoutes } from './routes-session.ts';
import { consulTxnRoutes } from './routes-txn.ts';

/** Consul's HTTP API: catalog, health, agent and status, KV, sessions, txn. */
export function consulRoutes(ctx: ServerContext): FastifyPluginAsync {
  return async (app) => {
    refuseUnknownDatacenter(app, () => ctx.discovery.catalog.datacenters());
    await app.register(consulCatalogRoutes(ctx));
    await app.register(consulHealthRoutes(ctx));
    await app.register(consulAgentRoutes(ctx));
    await app.register(consulKvRoutes(ctx.kv));
    await app.register(consulSessionRoutes(ctx.kv));
    await app.register(consulTxnRoutes(ctx));
  };
}

/** Consul's HTTP API: catalog, health, agent and status, KV, sessions, txn. */
export { consulCatalogRoutes } from './routes-catalog.ts';
export { consulHealthRoutes } from './routes-health.ts';
export { consulAgentRoutes } from './routes-agent.ts';
export { consulKvRoutes } from './routes-kv.ts';
export { consulSessionRoutes } from './routes-session.ts';
export { consulTxnRoutes } from './routes-txn.ts';

/** Consul's HTTP API: catalog, health, agent and status, KV, sessions, txn. */
export { consulRoutes } from './routes.ts';

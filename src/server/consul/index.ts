/** The Consul-compatible services of a server: the catalog with its sync loop and DNS, KV and sessions, the txn across them. */
export { ServerDiscovery, type DiscoveryOptions, type DnsOptions } from './server-discovery.ts';
export { openServerKv, startSessionReaper } from './server-kv.ts';
export { runConsulTxn } from './kv-catalog-txn.ts';

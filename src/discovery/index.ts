/**
 * Service discovery: the catalog (instances and health, Consul-shaped), the check runners agents
 * use, and the DNS server that reads the catalog.
 */
export * from './catalog/index.ts';
export * from './checks/index.ts';
export * from './dns/index.ts';

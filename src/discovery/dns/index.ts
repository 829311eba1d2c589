/** The DNS server: Consul's DNS interface over berth's catalog, UDP and TCP. */
export { DnsServer, type DnsServerOptions } from './server.ts';
export { DnsHandler, type DnsStats, type Forwarder } from './handler.ts';
export { resolve, shuffle, RCODE, type ResolverOptions, type Resolution } from './resolver.ts';
export { CatalogZone, zoneFromCatalog, type DnsInstance, type DnsZoneData } from './zone.ts';
export { DnsCluster, type DnsClusterOptions } from './cluster.ts';

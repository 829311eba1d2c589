/**
 * What DNS answers from: a plain snapshot of the catalog (instances by service, nodes by name),
 * rebuilt when the catalog changes. Plain data, so that it can be sent to DNS worker processes.
 */
import net from 'node:net';
import type { Catalog } from '../catalog/index.ts';

/** One instance as DNS sees it. */
export interface DnsInstance {
  address: string;
  port: number;
  tags: string[];
  nodeName: string;
  datacenter: string;
  /** False for an instance with a critical check (or on a down node): DNS leaves it out. */
  healthy: boolean;
}

/** The zone data. Names are lowercase. */
export interface DnsZoneData {
  /** The local datacenter: a name without one means this one, as in Consul. */
  datacenter: string;
  services: Record<string, DnsInstance[]>;
  nodes: Record<string, { address: string; datacenter: string }>;
  /** The catalog index it was built at (the SOA serial). */
  index: number;
}

/** Build the zone from the catalog. */
export function zoneFromCatalog(catalog: Catalog): DnsZoneData {
  const services: Record<string, DnsInstance[]> = {};
  for (const name of catalog.view.serviceNames()) {
    services[name.toLowerCase()] = catalog.instances(name).map((inst) => ({
      address: inst.address,
      port: inst.port,
      tags: inst.tags.map((t) => t.toLowerCase()),
      nodeName: inst.nodeName.toLowerCase(),
      datacenter: inst.datacenter.toLowerCase(),
      healthy: catalog.statusOf(inst) !== 'critical',
    }));
  }
  const nodes: DnsZoneData['nodes'] = {};
  for (const n of catalog.nodes()) if (net.isIP(n.address)) nodes[n.name.toLowerCase()] = { address: n.address, datacenter: n.datacenter.toLowerCase() };
  return { datacenter: catalog.local.datacenter.toLowerCase(), services, nodes, index: Math.max(catalog.servicesIndex(), catalog.view.tableIndex('nodes')) };
}

/** The zone of a live catalog: rebuilt on the first read after the catalog changed. */
export class CatalogZone {
  readonly #catalog: Catalog;
  #zone: DnsZoneData | undefined;
  readonly #unsubscribe: () => void;
  readonly #listeners = new Set<(zone: DnsZoneData) => void>();

  constructor(catalog: Catalog) {
    this.#catalog = catalog;
    this.#unsubscribe = catalog.view.onChange((_rev, changes) => {
      if (!changes.some((c) => c.table === 'services' || c.table === 'nodes')) return;
      this.#zone = undefined;
      if (this.#listeners.size > 0) {
        const zone = this.get();
        for (const l of this.#listeners) l(zone);
      }
    });
  }

  /** The current zone. */
  get(): DnsZoneData {
    this.#zone ??= zoneFromCatalog(this.#catalog);
    return this.#zone;
  }

  /** Be told of every new zone (DNS worker processes get theirs this way). */
  onZone(listener: (zone: DnsZoneData) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  close(): void {
    this.#unsubscribe();
    this.#listeners.clear();
  }
}

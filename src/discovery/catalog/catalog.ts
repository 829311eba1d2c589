/**
 * The catalog's reads: service instances and their health, from the state view (a memory read),
 * with the index each read follows for blocking queries. A change to one service moves only that
 * service's index, so a watcher of another never wakes for it.
 */
import { aggregateStatus, type CheckStatus, type ServiceInstance } from '../../model/index.ts';
import type { StateView } from '../../state/index.ts';
import { catalogNodes, type CatalogNode } from './consul-json.ts';
import type { LocalNode } from './registry.ts';

/** Which instances a health read returns. */
export interface InstanceQuery {
  /** Every tag must be on the instance (Consul ANDs repeated `tag`). */
  tags?: string[];
  /** Only instances whose checks (and node) all pass. */
  passing?: boolean;
  /** Leave out critical instances (what DNS hands out, as Consul's DNS does). */
  notCritical?: boolean;
  /** Only this datacenter. */
  datacenter?: string;
}

/** Read access to the catalog. */
export class Catalog {
  constructor(
    readonly view: StateView,
    readonly local: LocalNode,
  ) {}

  /** Every node, by name. */
  nodes(): CatalogNode[] {
    return catalogNodes(this.view, this.local, this.view.tableIndex('nodes'));
  }

  node(name: string): CatalogNode | undefined {
    return this.nodes().find((n) => n.name === name);
  }

  /** The node an instance runs on (the local node for external services). */
  nodeOf(inst: ServiceInstance): CatalogNode {
    const n = this.view.node(inst.nodeId);
    if (n) return { id: n.id, name: n.name, address: n.address, datacenter: n.datacenter, alive: n.status !== 'down', meta: { ...(n.meta ?? {}) }, index: this.view.modRevision('nodes', n.id) };
    return { ...this.local, alive: true, meta: {}, index: 1 };
  }

  /** Service names with the union of their instances' tags. */
  services(): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const name of this.view.serviceNames()) {
      const tags = new Set<string>();
      for (const inst of this.view.instancesOf(name)) for (const t of inst.tags) tags.add(t);
      out[name] = [...tags].sort();
    }
    return out;
  }

  /** The instances of a service that the query selects, by id. */
  instances(name: string, q: InstanceQuery = {}): ServiceInstance[] {
    return this.view.instancesOf(name).filter((inst) => {
      if (q.tags && !q.tags.every((t) => inst.tags.includes(t))) return false;
      if (q.datacenter && inst.datacenter !== q.datacenter) return false;
      if (!q.passing && !q.notCritical) return true;
      const status = this.statusOf(inst);
      return q.passing ? status === 'passing' : status !== 'critical';
    });
  }

  /** An instance's health: its checks and its node's. */
  statusOf(inst: ServiceInstance): CheckStatus {
    const node = this.view.node(inst.nodeId);
    if (node?.status === 'down') return 'critical';
    return aggregateStatus(inst.checks);
  }

  /** Instances on a node (by name). */
  instancesOnNode(nodeName: string): ServiceInstance[] {
    const node = this.view.nodes().find((n) => n.name === nodeName);
    if (node) return this.view.instancesOnNode(node.id);
    return this.view.serviceInstances().filter((i) => i.nodeName === nodeName);
  }

  /** The index a read of one service follows. */
  serviceIndex(name: string): number {
    return this.view.serviceIndex(name);
  }

  /** The index of reads over every service. */
  servicesIndex(): number {
    return this.view.tableIndex('services');
  }

  /** The index of reads over nodes and what runs on them. */
  nodesIndex(): number {
    return Math.max(this.view.tableIndex('nodes'), this.view.tableIndex('services'));
  }

  /** The ModifyIndex of an instance. */
  modifyIndex(inst: ServiceInstance): number {
    return this.view.modRevision('services', inst.id) || inst.createIndex;
  }

  /** Every datacenter the catalog knows, sorted, the local one included. */
  datacenters(): string[] {
    const dcs = new Set<string>([this.local.datacenter]);
    for (const n of this.view.nodes()) dcs.add(n.datacenter);
    return [...dcs].sort();
  }
}

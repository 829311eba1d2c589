/**
 * The catalog in Consul's JSON shapes (field names and casing as Consul's API documents them),
 * so that Consul clients, Prometheus' consul_sd and load balancers read berth unchanged.
 */
import type { CheckState, Node, ServiceInstance } from '../../model/index.ts';
import type { StateReader } from '../../state/index.ts';

/** A node as the catalog lists it: a berth node, or the server's own node for external services. */
export interface CatalogNode {
  id: string;
  name: string;
  address: string;
  datacenter: string;
  /** False when the node stopped heartbeating: its serfHealth check is critical. */
  alive: boolean;
  meta: Record<string, string>;
  index: number;
}

/** Consul's `Node` object. */
export function consulNode(n: CatalogNode): Record<string, unknown> {
  return {
    ID: n.id,
    Node: n.name,
    Address: n.address,
    Datacenter: n.datacenter,
    TaggedAddresses: { lan: n.address, lan_ipv4: n.address, wan: n.address, wan_ipv4: n.address },
    Meta: n.meta,
    CreateIndex: n.index,
    ModifyIndex: n.index,
  };
}

/** A berth node in the catalog's terms. */
export function catalogNodeOf(node: Node, index: number): CatalogNode {
  return { id: node.id, name: node.name, address: node.address, datacenter: node.datacenter, alive: node.status !== 'down', meta: { ...(node.meta ?? {}) }, index };
}

/** The node check every Consul node has: passing while the node heartbeats. */
export function serfHealth(n: CatalogNode): Record<string, unknown> {
  return {
    Node: n.name,
    CheckID: 'serfHealth',
    Name: 'Serf Health Status',
    Status: n.alive ? 'passing' : 'critical',
    Notes: '',
    Output: n.alive ? 'Agent alive and reachable' : 'Agent not live or unreachable',
    ServiceID: '',
    ServiceName: '',
    ServiceTags: [],
    Type: '',
    Interval: '',
    Timeout: '',
    ExposedPort: 0,
    Definition: {},
    CreateIndex: n.index,
    ModifyIndex: n.index,
  };
}

/** Consul's `HealthCheck`. */
export function consulCheck(inst: ServiceInstance, c: CheckState, modifyIndex: number): Record<string, unknown> {
  const interval = c.type === 'ttl' ? '' : goDuration(c.spec.intervalMs);
  return {
    Node: inst.nodeName,
    CheckID: c.id,
    Name: c.name,
    Status: c.status,
    Notes: c.notes,
    Output: c.output,
    ServiceID: inst.id,
    ServiceName: inst.name,
    ServiceTags: inst.tags,
    Type: c.type,
    Interval: interval,
    Timeout: c.type === 'ttl' ? '' : goDuration(c.spec.timeoutMs),
    ExposedPort: 0,
    Definition: {},
    CreateIndex: inst.createIndex,
    ModifyIndex: modifyIndex,
  };
}

/** Consul's `AgentService` (also the `Service` of a health entry, with indexes). */
export function consulService(inst: ServiceInstance, modifyIndex: number): Record<string, unknown> {
  return {
    ID: inst.id,
    Service: inst.name,
    Tags: inst.tags,
    Address: inst.address,
    Meta: inst.meta,
    Port: inst.port,
    Weights: { Passing: 1, Warning: 1 },
    EnableTagOverride: false,
    Datacenter: inst.datacenter,
    CreateIndex: inst.createIndex,
    ModifyIndex: modifyIndex,
  };
}

/** One entry of `/v1/catalog/service/:name`. */
export function consulCatalogService(inst: ServiceInstance, node: CatalogNode, modifyIndex: number): Record<string, unknown> {
  return {
    ID: node.id,
    Node: node.name,
    Address: node.address,
    Datacenter: node.datacenter,
    TaggedAddresses: consulNode(node).TaggedAddresses,
    NodeMeta: node.meta,
    ServiceKind: '',
    ServiceID: inst.id,
    ServiceName: inst.name,
    ServiceTags: inst.tags,
    ServiceAddress: inst.address,
    ServiceTaggedAddresses: {},
    ServiceWeights: { Passing: 1, Warning: 1 },
    ServiceMeta: inst.meta,
    ServicePort: inst.port,
    ServiceEnableTagOverride: false,
    ServiceProxy: { MeshGateway: {}, Expose: {} },
    ServiceConnect: {},
    CreateIndex: inst.createIndex,
    ModifyIndex: modifyIndex,
  };
}

/** Every node the catalog knows: berth's nodes, plus nodes only external services name. */
export function catalogNodes(state: StateReader, local: { id: string; name: string; address: string; datacenter: string }, localIndex: number): CatalogNode[] {
  const nodes = new Map<string, CatalogNode>();
  for (const n of state.nodes()) nodes.set(n.name, catalogNodeOf(n, localIndex));
  if (!nodes.has(local.name)) nodes.set(local.name, { ...local, alive: true, meta: {}, index: localIndex });
  return [...nodes.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** Milliseconds as a Go duration string, as Consul writes them (`10s`, `1m30s`, `500ms`). */
export function goDuration(ms: number): string {
  if (ms === 0) return '0s';
  if (ms < 1000) return `${ms}ms`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = (ms % 60_000) / 1000;
  return `${h ? `${h}h` : ''}${h || m ? `${m}m` : ''}${s}s`;
}

/** Parse a Go duration (`10s`, `1m30s`, `250ms`, `1.5h`); undefined when it is not one. */
export function parseGoDuration(text: string): number | undefined {
  if (!/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(text)) return /^\d+$/.test(text) ? Number(text) / 1e6 : undefined;
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) total += Number(m[1]) * units[m[2]];
  return Math.round(total);
}

import type { StateBackend, StateStore, StateView } from '../state/index.ts';
import type { Clock } from '../lib/index.ts';
import type { JobService } from './jobs/index.ts';
import type { NodeService } from './nodes/index.ts';
import type { PeriodicDispatcher } from './periodic/index.ts';
import type { GarbageCollector } from './gc/index.ts';
import type { ServerMetrics } from './metrics.ts';
import type { Catalog, CatalogRegistry } from '../discovery/catalog/index.ts';
import type { KvService } from '../kv/index.ts';
import type { ServerMember } from './cluster/index.ts';
import type { AclService } from './acl/index.ts';
import type { Keyring, VariableService, WorkloadIdentities } from './variables/index.ts';
import type { Transport } from '../api/index.ts';

/** What the routes know of the servers: who leads, who is there. */
export interface ClusterView {
  /** True while this server leads. */
  readonly isLeader: boolean;
  /** The leader as last seen; undefined during an election. */
  readonly leader: ServerMember | undefined;
  /** This server. */
  readonly self: ServerMember;
  /** Every live server. */
  members(): ServerMember[];
}

/**
 * What the HTTP routes may call: every service, always present. An app built for a test gets the
 * real ones too (from `Server.start`), so a route never makes a stand-in of its own.
 */
export interface ServerContext {
  view: StateView;
  store: StateStore;
  clock: Clock;
  jobs: JobService;
  nodes: NodeService;
  metrics: ServerMetrics;
  /** Launches periodic and dependent jobs (`job periodic force`, dispatch). */
  periodic: PeriodicDispatcher;
  /** The service catalog: reads (`catalog`) and registrations (`registry`). */
  discovery: { catalog: Catalog; registry: CatalogRegistry };
  /** Consul's KV and sessions. */
  kv: KvService;
  /** The state backend, for the event stream's replay of its revision log. */
  backend: StateBackend;
  /** The servers and the election. */
  cluster: ClusterView;
  /** Tokens and policies; resolves a request's identity. */
  acl: AclService;
  /** Variables, encrypted under the keyring. */
  variables: VariableService;
  /** The data keys of variables (`operator keyring`). */
  keyring: Keyring;
  /** The tokens of allocations (`wi:...`). */
  workloadIdentities: WorkloadIdentities;
  /** The leader's garbage collector (`berth system gc`). */
  gc: GarbageCollector;
  /**
   * How this server calls its peers: other servers (leader forwarding), whose certificates must
   * name a server, and agents (logs, exec, stats, task control), whose must name an agent.
   * Plain fetch without TLS.
   */
  peers: Peers;
}

/** The transports to the other servers and to the agents. */
export interface Peers {
  servers: Transport;
  agents: Transport;
}

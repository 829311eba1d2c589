import type { StateBackend, StateStore, StateView } from '../state/index.ts';
import type { Clock } from '../lib/index.ts';
import type { JobService } from './jobs.ts';
import type { NodeService } from './nodes.ts';
import type { PeriodicDispatcher } from './periodic/dispatcher.ts';
import type { ServerMetrics } from './metrics.ts';
import type { Catalog, CatalogRegistry } from '../discovery/catalog/index.ts';
import type { KvService } from '../kv/index.ts';
import type { ServerMember } from './leadership.ts';

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

/** What the HTTP routes may call. */
export interface ServerContext {
  view: StateView;
  store: StateStore;
  clock: Clock;
  jobs: JobService;
  nodes: NodeService;
  metrics: ServerMetrics;
  /** Launches periodic and dependent jobs; absent in apps built without a server. */
  periodic?: PeriodicDispatcher;
  /** The service catalog; absent in apps built without a server (routes then make one). */
  discovery?: { catalog: Catalog; registry: CatalogRegistry };
  /** Consul's KV and sessions; the KV, session and txn routes are served only when present. */
  kv?: KvService;
  /** The state backend, for the event stream's replay of its revision log. */
  backend?: StateBackend;
  /** The servers and the election; absent in apps built without a server (one server, leading). */
  cluster?: ClusterView;
}

import type { StateStore, StateView } from '../state/index.ts';
import type { Clock } from '../lib/index.ts';
import type { JobService } from './jobs.ts';
import type { NodeService } from './nodes.ts';
import type { ServerMetrics } from './metrics.ts';
import type { Catalog, CatalogRegistry } from '../discovery/index.ts';

/** What the HTTP routes may call. */
export interface ServerContext {
  view: StateView;
  store: StateStore;
  clock: Clock;
  jobs: JobService;
  nodes: NodeService;
  metrics: ServerMetrics;
  /** The service catalog; absent in apps built without a server (routes then make one). */
  discovery?: { catalog: Catalog; registry: CatalogRegistry };
}

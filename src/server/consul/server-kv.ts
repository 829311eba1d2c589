/**
 * The server's KV service: the mirror over the backend and, on the leader, the session reaper,
 * which ends sessions whose TTL lapsed, whose node is down (per the state view) or whose bound
 * check is critical (per the catalog). Check ids are the catalog's (`service:<id>`), as Consul's.
 */
import os from 'node:os';
import { KvService } from '../../kv/index.ts';
import type { StateBackend, StateView } from '../../state/index.ts';
import type { Clock } from '../../lib/index.ts';

/** Open the KV service (every server); the reaper starts with `startSessionReaper` (leader only). */
export async function openServerKv(backend: StateBackend, options: { nodeName?: string; clock: Clock }): Promise<KvService> {
  return KvService.open(backend, { node: options.nodeName ?? os.hostname(), clock: options.clock });
}

/**
 * Start the session reaper (the leader). Session renewals reach the leader (followers forward
 * them), and a new leader gives every session a full TTL from when it took over, as Consul's does.
 */
export function startSessionReaper(kv: KvService, view: StateView): void {
  kv.sessions.startReaper({
    nodeDown: (node) => view.nodes().some((n) => (n.id === node || n.name === node) && n.status === 'down'),
    checkCritical: (checkId) => view.serviceInstances().some((i) => i.checks.some((c) => c.id === checkId && c.status === 'critical')),
  });
}

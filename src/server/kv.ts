/**
 * The server's KV service: the mirror over the backend and the session reaper, which ends
 * sessions whose node is down (per the state view) or whose bound check is critical (per the
 * catalog). Check ids are the catalog's (`service:<id>`), as Consul's.
 */
import os from 'node:os';
import { KvService } from '../kv/index.ts';
import type { StateBackend, StateView } from '../state/index.ts';

/** Open the KV service and start its reaper. */
export async function openServerKv(backend: StateBackend, view: StateView, nodeName: string | undefined): Promise<KvService> {
  const kv = await KvService.open(backend, { node: nodeName ?? os.hostname() });
  kv.sessions.startReaper({
    nodeDown: (node) => view.nodes().some((n) => (n.id === node || n.name === node) && n.status === 'down'),
    checkCritical: (checkId) => view.serviceInstances().some((i) => i.checks.some((c) => c.id === checkId && c.status === 'critical')),
  });
  return kv;
}

import type { IngressRouteEntry, IngressStatus } from '../../api/index.ts';
import type { Catalog } from '../../discovery/catalog/index.ts';
import type { StateView } from '../../state/index.ts';
import { ingressNodes, INGRESS_META } from './ingress-check.ts';

/**
 * What every ingress routes, from the jobs that are not stopped, and the instances of each
 * routed service with their health, from the catalog: the agents' ingresses follow it (one
 * blocking query) and `berth ingress status` shows it. `mayRead` filters services (ACL).
 */
export function ingressStatus(view: StateView, catalog: Catalog, mayRead: (service: string) => boolean = () => true): IngressStatus {
  const routes = new Map<string, IngressRouteEntry>();
  for (const job of view.jobs()) {
    if (job.stop) continue;
    const services = job.groups.flatMap((g) => [...(g.services ?? []), ...g.tasks.flatMap((t) => t.services ?? [])]);
    for (const svc of services) {
      if (!mayRead(svc.name)) continue;
      for (const r of svc.ingress ?? []) {
        const entry: IngressRouteEntry =
          r.port !== undefined ? { kind: 'tcp', service: svc.name, jobId: job.id, port: r.port } : { kind: 'http', service: svc.name, jobId: job.id, path: r.path ?? '/', ...(r.host ? { host: r.host } : {}) };
        const key = `${entry.kind} ${entry.host ?? '*'} ${entry.path ?? ''} ${entry.port ?? ''} ${entry.service}`;
        if (!routes.has(key)) routes.set(key, entry);
      }
    }
  }
  const sorted = [...routes.values()].sort((a, b) => order(a).localeCompare(order(b)));
  const names = [...new Set(sorted.map((r) => r.service))].sort();
  return {
    routes: sorted,
    services: names.map((service) => ({
      service,
      instances: catalog
        .instances(service)
        .map((inst) => ({ id: inst.id, nodeName: inst.nodeName, address: inst.address, port: inst.port, status: catalog.statusOf(inst) }))
        .sort((a, b) => a.id.localeCompare(b.id)),
    })),
    nodes: ingressNodes(view.nodes()).map((n) => ({
      nodeId: n.id,
      name: n.name,
      addresses: (n.meta?.[INGRESS_META.addresses] ?? '').split(',').filter(Boolean),
      proxy: n.meta?.[INGRESS_META.proxy] ?? 'builtin',
    })),
  };
}

function order(r: IngressRouteEntry): string {
  return r.kind === 'tcp' ? `tcp ${String(r.port).padStart(5, '0')}` : `http ${r.host ?? '~'} ${r.path}`;
}

/** The index an ingress read follows: jobs, instances and their checks, nodes. */
export function ingressIndex(view: StateView): number {
  return Math.max(view.tableIndex('jobs'), view.tableIndex('services'), view.tableIndex('nodes'));
}

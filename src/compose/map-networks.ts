/**
 * Compose `networks` as name scopes. Each network of a project is the scope `<project>-<network>`;
 * a service on it is also registered as the berth service `NAME--SCOPE` (and each of its
 * `aliases` there), which the agent's node DNS answers as `NAME.SCOPE.network.berth`; its
 * containers search only their own networks' domains, so the bare `db` resolves only between
 * services that share a network. Traffic is not confined: a service address (or
 * `NAME.service.berth`) is reachable from any task, and the warning says so.
 */
import { dnsLabel, obj, type MapContext, type Obj } from './map-context.ts';

/** Where a service's names live: the scopes of its networks, and the names it has in each. */
export interface ServiceScopes {
  /** DNS search domains for its containers: `<scope>.network.berth`, one per network it is on. */
  search: string[];
  /** Berth service names it is registered as besides its own: `NAME--SCOPE`, `ALIAS--SCOPE`. */
  names: string[];
}

/** The keys of a service's network entry the mapping reads. */
const ATTACHMENT_HONOURED = new Set(['aliases']);
/** The keys of a top-level network that change nothing of a name scope. */
const NETWORK_HONOURED = new Set(['name', 'external']);

/**
 * The scope of a project network: `<project>-<network>` as a DNS label; a network with a `name`
 * (or `external`) is that name, so projects naming the same network share its names, as in Compose.
 */
export function scopeOf(ctx: MapContext, network: string): string {
  const def = obj(ctx.project.networks[network]);
  if (typeof def?.name === 'string') return dnsLabel(def.name);
  return dnsLabel(def?.external === true ? network : `${ctx.project.name}-${network}`);
}

/**
 * A service's network scopes and its names in each (its own, `aliases` given for it, and the
 * `container_name`/`links` aliases in `also`); none for `network_mode` (it is on no project network).
 */
export function serviceScopes(svc: Obj, of: { name: string; at: string; also: string[] }, ctx: MapContext): ServiceScopes {
  const { name, at } = of;
  if (svc.network_mode !== undefined) return { search: [], names: [] };
  // Compose puts a service that names no network on the project's `default` one.
  const attached = obj(svc.networks) ?? { default: null };
  const out: ServiceScopes = { search: [], names: [] };
  for (const [network, entry] of Object.entries(attached)) {
    const scope = scopeOf(ctx, network);
    const e = obj(entry) ?? {};
    for (const k of Object.keys(e)) if (!ATTACHMENT_HONOURED.has(k)) ctx.warnings.push({ path: `${at}.networks.${network}.${k}`, message: 'not honoured: a berth network is a name scope (aliases are honoured)' });
    out.search.push(`${scope}.network.berth`);
    for (const n of [name, ...of.also, ...((e.aliases as unknown[] | undefined) ?? []).map(String)]) {
      const scoped = `${dnsLabel(n)}--${scope}`;
      if (scoped.length > 63) ctx.problems.push({ path: `${at}.networks.${network}`, message: `the name "${scoped}" is longer than a DNS label (63); shorten the project, network or service name` });
      else out.names.push(scoped);
    }
  }
  return { search: out.search, names: [...new Set(out.names)] };
}

/** Warnings for what of the top-level `networks` berth does not do: each key by name, and traffic not confined. */
export function networkWarnings(ctx: MapContext): void {
  for (const [network, def] of Object.entries(ctx.project.networks)) {
    for (const k of Object.keys(obj(def) ?? {})) {
      if (NETWORK_HONOURED.has(k) || k.startsWith('x-')) continue;
      ctx.warnings.push({ path: `networks.${network}.${k}`, message: 'not honoured: a berth network is a name scope, not a Docker network' });
    }
  }
  const declared = Object.keys(ctx.project.networks).length > 0 || Object.values(ctx.project.services).some((s) => obj(s.networks) !== undefined);
  if (declared) {
    ctx.warnings.push({ path: 'networks', message: 'names only: the bare service name resolves between services that share a network (through agents with --service-addresses), but traffic is not confined; any task can connect to a service address or NAME.service.berth' });
  }
}

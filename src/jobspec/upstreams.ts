/**
 * The `upstreams` list of a group or a task: services the task reaches through a listener of its
 * node's agent, with Consul Connect's field names (`destination_name` is `service` here, as in
 * Nomad's shorthand) and Envoy's defaults for balancing, retries and outlier ejection.
 */
import type { UpstreamPolicy, UpstreamSpec } from '../model/index.ts';
import { MapReader, indexPath, type Problems } from './reader.ts';
import { parseDuration } from './units.ts';

const UPSTREAM_KEYS = ['service', 'local_bind_port', 'datacenter', 'policy', 'connect_timeout', 'retries', 'outlier'] as const;
const OUTLIER_KEYS = ['consecutive_failures', 'base_ejection_time', 'max_ejection_time'] as const;
const POLICIES = ['round_robin', 'least_connections'] as const;
const POLICY_OF: Record<(typeof POLICIES)[number], UpstreamPolicy> = { round_robin: 'round-robin', least_connections: 'least-connections' };
const SERVICE_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** What an upstream gets for each field it leaves out (the proxy layer's defaults, named here so docs and code agree). */
export const UPSTREAM_DEFAULTS = {
  policy: 'round-robin' as UpstreamPolicy,
  connectTimeoutMs: 5_000,
  retries: 2,
  outlier: { consecutiveFailures: 5, baseEjectionMs: 30_000, maxEjectionMs: 300_000 },
};

/** Reads `upstreams` of a group or task; absent when the spec has none. */
export function readUpstreams(owner: MapReader): UpstreamSpec[] | undefined {
  if (!owner.has('upstreams')) return undefined;
  const out: UpstreamSpec[] = [];
  owner.list('upstreams', 'upstreams').forEach((item, i) => {
    const r = MapReader.open(item, { path: indexPath(owner.pathOf('upstreams'), i), problems: owner.problems }, UPSTREAM_KEYS);
    if (r === undefined) return;
    const policy = r.oneOf('policy', POLICIES, 'round_robin');
    const upstream: UpstreamSpec = {
      service: r.string('service', '', { required: true, pattern: SERVICE_NAME, patternHelp: 'a service name (a DNS label)' }),
      localBindPort: r.int('local_bind_port', 0, { min: 1, max: 65535 }),
      policy: POLICY_OF[policy],
      connectTimeoutMs: r.quantity('connect_timeout', parseDuration, UPSTREAM_DEFAULTS.connectTimeoutMs),
      retries: r.int('retries', UPSTREAM_DEFAULTS.retries, { min: 0, max: 10 }),
      outlier: readOutlier(r),
    };
    if (!r.has('local_bind_port')) r.problem('local_bind_port', 'required: the port the task connects to, e.g. 5432');
    if (r.has('datacenter')) upstream.datacenter = r.string('datacenter', '');
    if (upstream.connectTimeoutMs <= 0) r.problem('connect_timeout', 'must be longer than 0s');
    out.push(upstream);
  });
  return out;
}

function readOutlier(r: MapReader): UpstreamSpec['outlier'] {
  const d = UPSTREAM_DEFAULTS.outlier;
  const o = r.has('outlier') ? r.child('outlier', OUTLIER_KEYS) : undefined;
  if (o === undefined) return { ...d };
  const outlier = {
    consecutiveFailures: o.int('consecutive_failures', d.consecutiveFailures, { min: 1, max: 1000 }),
    baseEjectionMs: o.quantity('base_ejection_time', parseDuration, d.baseEjectionMs),
    maxEjectionMs: o.quantity('max_ejection_time', parseDuration, d.maxEjectionMs),
  };
  if (outlier.maxEjectionMs < outlier.baseEjectionMs) o.problem('max_ejection_time', `must be at least base_ejection_time (${outlier.baseEjectionMs} ms)`);
  return outlier;
}

/**
 * Every task of an allocation shares its node's loopback, so a `local_bind_port` may be claimed
 * once in a group: by the group's upstreams or one task's, and by no static port of the group.
 */
export function checkUpstreamPorts(
  group: { upstreams?: UpstreamSpec[]; tasks: readonly { upstreams?: UpstreamSpec[] }[]; ports: readonly { label: string; static?: number }[] },
  at: { groupPath: string; problems: Problems },
): void {
  const claimed = new Map<number, string>();
  for (const p of group.ports) if (p.static) claimed.set(p.static, `the group's static port "${p.label}"`);
  const visit = (list: UpstreamSpec[] | undefined, path: string): void =>
    list?.forEach((u, i) => {
      const here = `${indexPath(path, i)}.local_bind_port`;
      const other = claimed.get(u.localBindPort);
      if (u.localBindPort > 0 && other !== undefined) {
        at.problems.add(here, `port ${u.localBindPort} is already taken by ${other} in this group; pick another local_bind_port`);
      } else if (u.localBindPort > 0) claimed.set(u.localBindPort, `the upstream at ${here}`);
    });
  visit(group.upstreams, `${at.groupPath}.upstreams`);
  group.tasks.forEach((t, i) => visit(t.upstreams, `${at.groupPath}.tasks[${i}].upstreams`));
}

/**
 * The values of a service that the Compose Specification's schema leaves as free strings or
 * numbers (durations, byte sizes, CPUs, counts, ports), checked before they are mapped: a value
 * that is none of its kind is a problem with its path, never quietly a default.
 */
import { obj, type MapContext, type Obj } from './map-context.ts';
import { durationMs, sizeMiB } from './units.ts';

type Kind = 'duration' | 'size' | 'cpus' | 'count' | 'port';

/** What each kind accepts, and the examples a message gives. */
const KINDS: Record<Kind, { ok: (v: unknown) => boolean; expected: string }> = {
  duration: { ok: (v) => durationMs(v) !== undefined, expected: 'a duration such as 10s, 1m30s or 500ms' },
  size: { ok: (v) => sizeMiB(v) !== undefined, expected: 'a size such as 512m, 1g or 1024k' },
  cpus: { ok: (v) => v !== '' && Number.isFinite(Number(v)) && Number(v) >= 0, expected: 'a number of CPUs such as 0.5 or 2' },
  count: { ok: (v) => Number.isInteger(Number(v)) && Number(v) >= 0, expected: 'a whole number, 0 or more' },
  port: { ok: (v) => Number.isInteger(Number(v)) && Number(v) >= 1 && Number(v) <= 65535, expected: 'a port from 1 to 65535' },
};

/** Where the checked values are in a service (in their long forms, after normalising), and their kind. */
const RULES: readonly [path: string, kind: Kind][] = [
  ['healthcheck.interval', 'duration'],
  ['healthcheck.timeout', 'duration'],
  ['healthcheck.start_period', 'duration'],
  ['healthcheck.start_interval', 'duration'],
  ['healthcheck.retries', 'count'],
  ['deploy.replicas', 'count'],
  ['scale', 'count'],
  ['deploy.restart_policy.delay', 'duration'],
  ['deploy.restart_policy.window', 'duration'],
  ['deploy.restart_policy.max_attempts', 'count'],
  ['deploy.update_config.delay', 'duration'],
  ['deploy.update_config.monitor', 'duration'],
  ['deploy.update_config.parallelism', 'count'],
  ['deploy.rollback_config.delay', 'duration'],
  ['deploy.rollback_config.monitor', 'duration'],
  ['deploy.rollback_config.parallelism', 'count'],
  ['deploy.resources.limits.memory', 'size'],
  ['deploy.resources.reservations.memory', 'size'],
  ['deploy.resources.limits.cpus', 'cpus'],
  ['deploy.resources.reservations.cpus', 'cpus'],
  ['mem_limit', 'size'],
  ['mem_reservation', 'size'],
  ['cpus', 'cpus'],
];

/** Every value of `svc` at a rule's path that is not of its kind, as a problem at `at.<path>`. */
export function checkValues(svc: Obj, at: string, ctx: MapContext): void {
  for (const [path, kind] of RULES) {
    const keys = path.split('.');
    const parent = keys.slice(0, -1).reduce<Obj | undefined>((o, k) => obj(o?.[k]), svc);
    const value = parent?.[keys[keys.length - 1]];
    if (value === undefined || value === null || KINDS[kind].ok(value)) continue;
    ctx.problems.push({ path: `${at}.${path}`, message: `${JSON.stringify(value)} is not ${KINDS[kind].expected}` });
  }
  for (const [i, p] of ((svc.ports as Obj[] | undefined) ?? []).entries()) {
    if (KINDS.port.ok(p.target)) continue;
    const range = typeof p.target === 'string' && /^\d+-\d+$/.test(p.target);
    const fix = range ? 'berth maps one port per entry: write each port of the range as its own entry' : 'write ports as "HOST:CONTAINER" or "CONTAINER"';
    ctx.problems.push({ path: `${at}.ports[${i}].target`, message: `${JSON.stringify(p.target)} is not ${KINDS.port.expected}; ${fix}` });
  }
}

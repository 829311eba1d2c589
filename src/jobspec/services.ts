/**
 * The `services` list of a group or a task, with their checks. Field names follow Nomad's service
 * block (snake_case); defaults follow Consul (a new check starts critical, 2xx passes).
 */
import type { AddressMode, CheckSpec, CheckType, ServiceSpec } from '../model/index.ts';
import { IDENTIFIER } from './defaults.ts';
import { readIngress } from './ingress.ts';
import { MapReader, indexPath, type Problems } from './reader.ts';
import { parseDuration } from './units.ts';

const SERVICE_KEYS = ['name', 'port', 'tags', 'meta', 'address_mode', 'checks', 'ingress'] as const;
const CHECK_KEYS = [
  'name',
  'type',
  'interval',
  'timeout',
  'path',
  'method',
  'header',
  'expected_status',
  'command',
  'args',
  'grpc_service',
  'port',
  'ttl',
  'success_before_passing',
  'failures_before_critical',
  'check_restart',
  'deregister_critical_service_after',
] as const;
const CHECK_TYPES: readonly CheckType[] = ['http', 'tcp', 'script', 'ttl', 'grpc'];
const ADDRESS_MODES: readonly AddressMode[] = ['auto', 'host', 'driver'];
/** DNS labels: service names end up in `NAME.service.berth`. */
const SERVICE_NAME = {
  pattern: /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/,
  help: 'a DNS label: lowercase letters, digits and "-", at most 63 characters, not starting or ending with "-"',
};
/** Check defaults, as Nomad's: every 10 s, 2 s to answer. */
export const CHECK_DEFAULTS = { intervalMs: 10_000, timeoutMs: 2_000 };
const COUNT = { min: 0, max: 1000 };

/** Reads `services` of a group or task; absent when the spec has none. */
export function readServices(owner: MapReader, portLabels: readonly string[] | undefined): ServiceSpec[] | undefined {
  if (!owner.has('services')) return undefined;
  const services: ServiceSpec[] = [];
  owner.list('services', 'services').forEach((item, i) => {
    const r = MapReader.open(item, { path: indexPath(owner.pathOf('services'), i), problems: owner.problems }, SERVICE_KEYS);
    if (r === undefined) return;
    const service: ServiceSpec = {
      name: r.string('name', '', { required: true, pattern: SERVICE_NAME.pattern, patternHelp: SERVICE_NAME.help }),
      tags: readStrings(r, 'tags'),
      meta: r.stringMap('meta'),
      addressMode: r.oneOf('address_mode', ADDRESS_MODES, 'auto'),
      checks: [],
    };
    if (r.has('port')) service.portLabel = readPortLabel(r, 'port', portLabels);
    r.list('checks', 'checks').forEach((c, j) => {
      const check = readCheck(c, indexPath(r.pathOf('checks'), j), r.problems, portLabels);
      if (check) service.checks.push(check);
    });
    for (const check of service.checks) {
      if ((check.type === 'http' || check.type === 'tcp' || check.type === 'grpc') && !check.portLabel && !service.portLabel) {
        r.problem('checks', `a ${check.type} check needs a port: set the service's port or the check's`);
      }
    }
    const ingress = readIngress(r, service.portLabel !== undefined && service.portLabel !== '');
    if (ingress) service.ingress = ingress;
    services.push(service);
  });
  return services;
}

function readPortLabel(r: MapReader, key: string, portLabels: readonly string[] | undefined): string {
  const label = r.string(key, '', { pattern: IDENTIFIER.pattern, patternHelp: IDENTIFIER.help });
  if (label !== '' && portLabels !== undefined && !portLabels.includes(label)) {
    r.problem(key, `no port labelled "${label}" in the group (labels: ${portLabels.join(', ') || 'none'})`);
  }
  return label;
}

function readStrings(r: MapReader, key: string): string[] {
  const out: string[] = [];
  r.list(key, 'strings').forEach((v, i) => {
    if (typeof v === 'string' && v !== '') out.push(v);
    else r.problems.add(indexPath(r.pathOf(key), i), 'must be a non-empty string');
  });
  return out;
}

function readCheck(value: unknown, path: string, problems: Problems, portLabels: readonly string[] | undefined): CheckSpec | undefined {
  const r = MapReader.open(value, { path, problems }, CHECK_KEYS);
  if (r === undefined) return undefined;
  const type = r.oneOf('type', CHECK_TYPES, 'tcp');
  if (!r.has('type')) r.problem('type', `required: one of ${CHECK_TYPES.join(', ')}`);
  const check: CheckSpec = {
    type,
    intervalMs: r.quantity('interval', parseDuration, CHECK_DEFAULTS.intervalMs),
    timeoutMs: r.quantity('timeout', parseDuration, CHECK_DEFAULTS.timeoutMs),
    successBeforePassing: r.int('success_before_passing', 0, COUNT),
    failuresBeforeCritical: r.int('failures_before_critical', 0, COUNT),
  };
  if (r.has('name')) check.name = r.string('name', '');
  if (r.has('port')) check.portLabel = readPortLabel(r, 'port', portLabels);
  if (check.intervalMs <= 0) r.problem('interval', 'must be longer than 0s');
  if (check.timeoutMs <= 0) r.problem('timeout', 'must be longer than 0s');
  readTypeFields(r, check);
  if (r.has('check_restart')) readCheckRestart(r, check);
  if (r.has('deregister_critical_service_after')) check.deregisterCriticalAfterMs = r.quantity('deregister_critical_service_after', parseDuration, 0);
  return check;
}

function readTypeFields(r: MapReader, check: CheckSpec): void {
  switch (check.type) {
    case 'http': {
      check.path = r.string('path', '/');
      if (!check.path.startsWith('/')) r.problem('path', `must start with "/", got "${check.path}"`);
      check.method = r.string('method', 'GET').toUpperCase();
      if (r.has('header')) check.headers = readHeaders(r);
      check.expectStatus = readStatusRange(r);
      break;
    }
    case 'script':
      check.command = r.string('command', '', { required: true });
      check.args = readStrings(r, 'args');
      break;
    case 'ttl':
      check.ttlMs = r.quantity('ttl', parseDuration, 0);
      if (!r.has('ttl')) r.problem('ttl', 'required by a ttl check');
      break;
    case 'grpc':
      check.grpcService = r.has('grpc_service') ? r.string('grpc_service', '') : '';
      break;
    case 'tcp':
      break;
  }
}

/** `header: {X-Key: [a, b]}` as Consul; a single string is taken as a one-value list. */
function readHeaders(r: MapReader): Record<string, string[]> {
  const raw = r.get('header');
  const out: Record<string, string[]> = {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    r.problem('header', 'must be a map of header names to lists of values');
    return out;
  }
  for (const [k, v] of Object.entries(raw)) {
    const values = Array.isArray(v) ? v : [v];
    if (values.every((x) => typeof x === 'string')) out[k] = values as string[];
    else r.problems.add(`${r.pathOf('header')}.${k}`, 'must be a string or a list of strings');
  }
  return out;
}

/** `expected_status: 200`, `"200-399"`; default 2xx. */
function readStatusRange(r: MapReader): { min: number; max: number } {
  if (!r.has('expected_status')) return { min: 200, max: 299 };
  const v = r.get('expected_status');
  const m = /^(\d{3})(?:-(\d{3}))?$/.exec(String(v));
  if (!m || (m[2] !== undefined && Number(m[2]) < Number(m[1]))) {
    r.problem('expected_status', `must be a status or a range such as 200-399, got ${JSON.stringify(v)}`);
    return { min: 200, max: 299 };
  }
  return { min: Number(m[1]), max: Number(m[2] ?? m[1]) };
}

function readCheckRestart(r: MapReader, check: CheckSpec): void {
  const c = r.child('check_restart', ['limit', 'grace'] as const);
  if (c === undefined) return;
  check.checkRestart = { limit: c.int('limit', 0, COUNT), graceMs: c.quantity('grace', parseDuration, 1000) };
}

/** Task services read before the group's ports were known: their port labels must be the group's. */
export function checkTaskServicePorts(tasks: readonly { services?: ServiceSpec[] }[], portLabels: readonly string[], at: { tasksPath: string; problems: Problems }): void {
  const { tasksPath, problems } = at;
  tasks.forEach((task, t) =>
    task.services?.forEach((svc, i) => {
      const labels = [svc.portLabel, ...svc.checks.map((c) => c.portLabel)].filter((l): l is string => l !== undefined && l !== '');
      for (const label of labels) {
        if (!portLabels.includes(label)) problems.add(`${indexPath(tasksPath, t)}.services[${i}]`, `no port labelled "${label}" in the group (labels: ${portLabels.join(', ') || 'none'})`);
      }
    }),
  );
}

/**
 * `address_mode: driver` registers the address the driver gave the task; the process driver gives
 * none (the task shares the host's), so such a service would never be registered.
 */
export function checkTaskAddressModes(tasks: readonly { driver?: string; services?: ServiceSpec[] }[], tasksPath: string, problems: Problems): void {
  tasks.forEach((task, t) =>
    task.services?.forEach((svc, i) => {
      if (svc.addressMode !== 'driver' || task.driver !== 'process') return;
      problems.add(`${indexPath(tasksPath, t)}.services[${i}].address_mode`, 'the process driver gives a task no address of its own: use host or auto, or run the task with driver: docker');
    }),
  );
}

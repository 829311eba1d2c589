/**
 * An external service as Consul's `PUT /v1/agent/service/register` takes it, turned into a
 * catalog instance. Consul matches field names without regard to case or underscores
 * (`Name`, `name`, `deregister_critical_service_after`), and so does this.
 */
import { BerthError, type CheckSpec, type CheckState, type CheckStatus, type CheckType, type ErrorDetail, type ServiceInstance } from '../../model/index.ts';
import { checkIds } from '../checks/index.ts';
import { parseGoDuration } from './consul-json.ts';
import type { LocalNode } from './registry.ts';

type Json = Record<string, unknown>;

/** A field by Consul's name, whatever its case or underscores. */
function field(obj: Json, name: string): unknown {
  const want = name.toLowerCase();
  for (const [k, v] of Object.entries(obj)) if (k.toLowerCase().replaceAll('_', '') === want) return v;
  return undefined;
}

function isObj(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const STATUSES: readonly CheckStatus[] = ['passing', 'warning', 'critical'];

/** Parse a registration body; every problem is reported with its path. */
export function instanceFromConsul(body: unknown, node: LocalNode, now: number): ServiceInstance {
  const problems: ErrorDetail[] = [];
  if (!isObj(body)) throw new BerthError('invalid_input', 'Cannot register service: the body must be a JSON object', [{ path: '', message: 'must be an object' }]);
  const name = field(body, 'Name');
  if (typeof name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(name)) problems.push({ path: 'Name', message: 'required: a service name usable as a DNS label' });
  const id = field(body, 'ID') ?? name;
  if (id !== undefined && (typeof id !== 'string' || id === '' || id.length > 256 || id.includes('/'))) problems.push({ path: 'ID', message: 'must be a non-empty string without "/"' });
  const port = field(body, 'Port') ?? 0;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) problems.push({ path: 'Port', message: 'must be an integer from 0 to 65535' });
  const tags = field(body, 'Tags') ?? [];
  if (!Array.isArray(tags) || !tags.every((t) => typeof t === 'string')) problems.push({ path: 'Tags', message: 'must be a list of strings' });
  const meta = field(body, 'Meta') ?? {};
  if (!isObj(meta) || !Object.values(meta).every((v) => typeof v === 'string')) problems.push({ path: 'Meta', message: 'must be a map of strings' });
  const address = field(body, 'Address') ?? '';
  if (typeof address !== 'string') problems.push({ path: 'Address', message: 'must be a string' });
  const specs: { spec: CheckSpec; id?: string; status: CheckStatus; notes: string; name?: string }[] = [];
  const one = field(body, 'Check');
  const many = field(body, 'Checks');
  const raw = [...(isObj(one) ? [one] : []), ...(Array.isArray(many) ? many : [])];
  raw.forEach((c, i) => {
    const path = isObj(one) && i === 0 ? 'Check' : `Checks[${i - (isObj(one) ? 1 : 0)}]`;
    const parsed = checkFromConsul(c, path, problems);
    if (parsed) specs.push(parsed);
  });
  if (problems.length > 0) throw new BerthError('invalid_input', `Cannot register service: ${problems[0].path}: ${problems[0].message}`, problems);
  const serviceId = id as string;
  const defaults = checkIds(serviceId, specs.length);
  const checks: CheckState[] = specs.map((s, i) => ({
    id: s.id ?? defaults[i],
    name: s.name ?? `Service '${name as string}' check`,
    type: s.spec.type,
    status: s.status,
    output: '',
    notes: s.notes,
    spec: s.spec,
    updatedAt: now,
    ...(s.status === 'critical' ? { criticalSince: now } : {}),
  }));
  return {
    id: serviceId,
    name: name as string,
    nodeId: node.id,
    nodeName: node.name,
    datacenter: node.datacenter,
    address: (address as string) || node.address,
    port: port as number,
    tags: tags as string[],
    meta: meta as Record<string, string>,
    checks,
    source: { kind: 'external' },
    createIndex: 0,
  };
}

function duration(c: Json, key: string, path: string, problems: ErrorDetail[]): number | undefined {
  const v = field(c, key);
  if (v === undefined || v === '') return undefined;
  const ms = typeof v === 'string' ? parseGoDuration(v) : typeof v === 'number' ? v / 1e6 : undefined;
  if (ms === undefined) problems.push({ path: `${path}.${key}`, message: `must be a duration such as "10s", got ${JSON.stringify(v)}` });
  return ms;
}

/** One Consul check definition (`TTL`, `HTTP`, `TCP`, `GRPC` or `Args`); problems go to `problems` with their path. */
export function checkFromConsul(c: unknown, path: string, problems: ErrorDetail[]): { spec: CheckSpec; id?: string; status: CheckStatus; notes: string; name?: string } | undefined {
  if (!isObj(c)) {
    problems.push({ path, message: 'must be an object' });
    return undefined;
  }
  const ttlMs = duration(c, 'TTL', path, problems);
  const http = field(c, 'HTTP');
  const tcp = field(c, 'TCP');
  const grpc = field(c, 'GRPC');
  const args = field(c, 'Args');
  const type: CheckType | undefined = ttlMs ? 'ttl' : http ? 'http' : tcp ? 'tcp' : grpc ? 'grpc' : Array.isArray(args) ? 'script' : undefined;
  if (!type) {
    problems.push({ path, message: 'needs one of TTL, HTTP, TCP, GRPC or Args' });
    return undefined;
  }
  const status = (field(c, 'Status') ?? 'critical') as CheckStatus;
  if (!STATUSES.includes(status)) problems.push({ path: `${path}.Status`, message: 'must be passing, warning or critical' });
  const spec: CheckSpec = {
    type,
    intervalMs: duration(c, 'Interval', path, problems) ?? 10_000,
    timeoutMs: duration(c, 'Timeout', path, problems) ?? 10_000,
    successBeforePassing: Number(field(c, 'SuccessBeforePassing') ?? 0),
    failuresBeforeCritical: Number(field(c, 'FailuresBeforeCritical') ?? 0),
  };
  if (type !== 'ttl' && !field(c, 'Interval')) problems.push({ path: `${path}.Interval`, message: `required by a ${type} check` });
  if (type === 'ttl') spec.ttlMs = ttlMs;
  if (type === 'http') Object.assign(spec, { url: String(http), method: String(field(c, 'Method') ?? 'GET'), headers: field(c, 'Header') ?? {}, expectStatus: { min: 200, max: 299 } });
  if (type === 'tcp') Object.assign(spec, { target: String(tcp) });
  if (type === 'grpc') Object.assign(spec, { target: String(grpc), grpcService: '' });
  if (type === 'script') Object.assign(spec, { command: String((args as unknown[])[0] ?? ''), args: (args as unknown[]).slice(1).map(String) });
  const dereg = duration(c, 'DeregisterCriticalServiceAfter', path, problems);
  if (dereg !== undefined) spec.deregisterCriticalAfterMs = dereg;
  const id = field(c, 'CheckID') ?? field(c, 'ID');
  const name = field(c, 'Name');
  return {
    spec,
    ...(typeof id === 'string' && id !== '' ? { id } : {}),
    ...(typeof name === 'string' && name !== '' ? { name } : {}),
    status,
    notes: String(field(c, 'Notes') ?? ''),
  };
}

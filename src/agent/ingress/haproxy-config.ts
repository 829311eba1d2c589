/**
 * The HAProxy configuration for an ingress plan, pure. Each service has a backend with a fixed
 * number of server slots (`s1`..`sN`): the runtime API points a slot at an instance (`set server
 * ... addr`, `state ready`) or parks it (`state maint`), so instances come and go without a
 * reload; only new routes or too few slots need one. The slots an instance fills are written
 * into the file too, so a reloaded worker starts with the instances the old one had.
 */
import type { Endpoint } from '../../proxy/index.ts';
import { formatAddress, type IngressPlan, type ListenAddress } from './ingress-plan.ts';

/** The connect timeout, as the built-in router's (proxy/ingress-router.ts). */
const CONNECT_TIMEOUT = '5s';

/** The ingress's request and idle timeouts (`--ingress-request-timeout`, `--ingress-idle-timeout`), in ms. */
export interface IngressTimeouts {
  requestTimeoutMs: number;
  idleTimeoutMs: number;
}

const DEFAULT_TIMEOUTS: IngressTimeouts = { requestTimeoutMs: 60_000, idleTimeoutMs: 60_000 };
/**
 * No server in the slots is usable. Not while the process is stopping: an old worker after a
 * reload counts no usable server, yet still forwards the last request of a keep-alive connection.
 */
const NONE_USABLE = '{ nbsrv eq 0 } !{ stopping }';
/** The smallest number of slots a backend gets. */
const MIN_SLOTS = 8;

/** Which instance each slot of a backend holds (undefined: parked). */
export type Slots = (Endpoint | undefined)[];

/** What the file is made from. */
export interface HaproxyConfigInput {
  addresses: ListenAddress[];
  plan: IngressPlan;
  /** The slots of each backend by backend name (`http_<service>`, `tcp_<service>`). */
  slots: Map<string, Slots>;
  /** The runtime API's socket (with `expose-fd listeners`, for seamless reloads). */
  adminSocket: string;
  /** `nbthread`; absent: HAProxy's default (one per CPU). */
  threads?: number;
  /** Default 60 s each. */
  timeouts?: IngressTimeouts;
}

/** The number of slots for `count` instances: room to double before a reload. */
export function slotCount(count: number): number {
  let n = MIN_SLOTS;
  while (n < count * 2) n *= 2;
  return n;
}

/** Backend names of a service. */
export const httpBackend = (service: string): string => `http_${service}`;
export const tcpBackend = (service: string): string => `tcp_${service}`;

/** The backends a plan needs, each with the services whose instances fill it. */
export function backendsOf(plan: IngressPlan): Map<string, string> {
  const out = new Map<string, string>();
  for (const r of plan.http) out.set(httpBackend(r.service), r.service);
  for (const r of plan.tcp) out.set(tcpBackend(r.service), r.service);
  return out;
}

/** The whole configuration file. */
export function haproxyConfig(input: HaproxyConfigInput): string {
  const { plan } = input;
  const lines = [
    'global',
    `  stats socket ${input.adminSocket} mode 600 level admin expose-fd listeners`,
    '  maxconn 4096',
    ...(input.threads ? [`  nbthread ${input.threads}`] : []),
    // An old worker after a reload finishes its connections, but not forever.
    '  hard-stop-after 120s',
    'defaults',
    '  mode http',
    ...timeoutLines(input.timeouts ?? DEFAULT_TIMEOUTS),
    // After a reload the old worker answers the next request of an idle keep-alive connection
    // (with Connection: close) instead of closing it under the client.
    '  option idle-close-on-response',
    '  option http-keep-alive',
    '  retries 2',
    '  option redispatch',
    ...httpFrontends(input),
    ...tcpFrontends(input),
    'backend no_route',
    ...failure(404, 'no_route', 'no route for this host and path', ''),
  ];
  for (const [backend, service] of [...backendsOf(plan)].sort()) lines.push(...backendLines(backend, service, input.slots.get(backend) ?? []));
  return `${lines.join('\n')}\n`;
}

/**
 * The timeouts as the built-in router keeps them: a request, and an instance's answer, within the
 * request timeout; an idle keep-alive connection, a WebSocket and a TCP route's connection (all
 * tunnels once joined) closed after the idle timeout.
 */
function timeoutLines(t: IngressTimeouts): string[] {
  const [request, idle] = [`${t.requestTimeoutMs}ms`, `${t.idleTimeoutMs}ms`];
  return [
    `  timeout connect ${CONNECT_TIMEOUT}`,
    `  timeout client ${request}`,
    `  timeout server ${request}`,
    `  timeout http-request ${request}`,
    `  timeout http-keep-alive ${idle}`,
    `  timeout tunnel ${idle}`,
  ];
}

function httpFrontends(input: HaproxyConfigInput): string[] {
  if (input.addresses.length === 0) return [];
  const lines = ['frontend ingress_http', ...input.addresses.map((a) => `  bind ${formatAddress(a)}`)];
  lines.push('  option forwardfor', '  http-request set-header X-Forwarded-Proto http', '  http-request set-header X-Forwarded-Host %[req.hdr(host)]');
  // As proxy/route-table.ts: the routes of the request's host first, longest prefix first; then routes for any host.
  const ordered = [...input.plan.http].sort((a, b) => Number(!a.host) - Number(!b.host) || (b.pathPrefix ?? '/').length - (a.pathPrefix ?? '/').length);
  ordered.forEach((r, i) => {
    const conds: string[] = [];
    if (r.host) {
      lines.push(`  acl r${i}_host req.hdr(host),field(1,:),lower -m str ${r.host}`);
      conds.push(`r${i}_host`);
    }
    const prefix = r.pathPrefix ?? '/';
    if (prefix !== '/') {
      // On segment boundaries: /api matches /api and /api/..., not /apis.
      lines.push(`  acl r${i}_path path -m str ${prefix}`, `  acl r${i}_path path -m beg ${prefix}/`);
      conds.push(`r${i}_path`);
    }
    lines.push(`  use_backend ${httpBackend(r.service)}${conds.length ? ` if ${conds.join(' ')}` : ''}`);
  });
  lines.push('  default_backend no_route');
  return lines;
}

function tcpFrontends(input: HaproxyConfigInput): string[] {
  const hosts = [...new Set(input.addresses.map((a) => a.host))];
  return input.plan.tcp.flatMap((r) => [
    `frontend tcp_${r.port}`,
    '  mode tcp',
    ...hosts.map((host) => `  bind ${formatAddress({ host, port: r.port })}`),
    `  default_backend ${tcpBackend(r.service)}`,
  ]);
}

function backendLines(backend: string, service: string, slots: Slots): string[] {
  const tcp = backend.startsWith('tcp_');
  const lines = [`backend ${backend}`, `  mode ${tcp ? 'tcp' : 'http'}`, '  balance roundrobin'];
  if (!tcp) lines.push(...failure(503, 'no_healthy_instance', `no healthy instance of service "${service}"`, service, NONE_USABLE));
  slots.forEach((e, i) => lines.push(e ? `  server s${i + 1} ${formatAddress(e)}` : `  server s${i + 1} 127.0.0.1:9 disabled`));
  return lines;
}

/** The ingress's own answer, as the built-in router gives it: JSON when the client accepts JSON, text otherwise. */
function failure(status: 404 | 503, code: string, message: string, service: string, cond = ''): string[] {
  const reason = status === 404 ? 'Not Found' : 'Service Unavailable';
  const json = JSON.stringify({ error: { code, message, ...(service ? { service } : {}) } });
  const ret = `http-request return status ${status} hdr x-berth-ingress ${code}`;
  const when = (extra: string): string => ([cond, extra].filter(Boolean).length ? ` if ${[cond, extra].filter(Boolean).join(' ')}` : '');
  return [
    `  ${ret} content-type application/json string ${quote(json)}${when('{ req.hdr(accept) -m sub application/json }')}`,
    `  ${ret} content-type ${quote('text/plain; charset=utf-8')} string ${quote(`${status} ${reason}: ${message}\n`)}${when('')}`,
  ];
}

/** A double-quoted word of HAProxy's configuration: backslash, quote, "$" (variables) and newline escaped. */
function quote(text: string): string {
  return `"${text.replace(/[\\"$]/g, (c) => `\\${c}`).replace(/\n/g, '\\n')}"`;
}

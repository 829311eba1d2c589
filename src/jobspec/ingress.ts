/**
 * A service's `ingress` list (`[{host, path}]` for HTTP, `[{port}]` for TCP) and the claims
 * routes make: one host and path, or one TCP port, goes to one service, within a job
 * (`checkIngressClaims`) and across jobs (`ingressConflicts`, which the server runs at submit
 * against the other jobs it holds).
 */
import type { ErrorDetail, IngressRoute, ServiceSpec } from '../model/index.ts';
import { MapReader, indexPath } from './reader.ts';

const INGRESS_KEYS = ['host', 'path', 'port'] as const;
/** A DNS name as a Host header carries it: labels of letters, digits and "-", dot-separated. */
const HOST = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
/** Path characters RFC 3986 allows unescaped, "%" escapes included; no query or fragment. */
const PATH = /^\/[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*$/;
/** Ports below this need rights to bind (root or CAP_NET_BIND_SERVICE on Linux). */
export const PRIVILEGED_BELOW = 1024;

/** Reads `ingress` of a service; absent when the spec has none. */
export function readIngress(r: MapReader, hasPort: boolean): IngressRoute[] | undefined {
  if (!r.has('ingress')) return undefined;
  const routes: IngressRoute[] = [];
  r.list('ingress', 'ingress routes').forEach((item, i) => {
    const c = MapReader.open(item, { path: indexPath(r.pathOf('ingress'), i), problems: r.problems }, INGRESS_KEYS);
    if (c === undefined) return;
    const route = readRoute(c);
    if (route) routes.push(route);
  });
  if (routes.length > 0 && !hasPort) r.problem('ingress', 'an ingress route needs somewhere to send traffic: set the service\'s port');
  return routes;
}

function readRoute(c: MapReader): IngressRoute | undefined {
  const route: IngressRoute = {};
  if (c.has('port')) {
    route.port = c.int('port', 0, { min: 1, max: 65_535 });
    if (c.has('host') || c.has('path')) c.problem('port', 'a TCP route takes only a port; write host and path as a route of their own');
    return route;
  }
  if (!c.has('host') && !c.has('path')) {
    c.problems.add(c.path, 'an ingress route needs host and/or path (HTTP) or port (TCP)');
    return undefined;
  }
  if (c.has('host')) route.host = readHost(c);
  if (c.has('path')) route.path = readPath(c);
  return route;
}

function readHost(c: MapReader): string {
  const host = c.string('host', '').toLowerCase();
  if (host.includes(':')) c.problem('host', `"${host}" has a port; give the name alone (the ingress's port is the one \`berth agent --ingress\` listens on)`);
  else if (host !== '' && !HOST.test(host)) c.problem('host', `"${host}" is not a host name: dot-separated labels of letters, digits and "-"`);
  return host;
}

function readPath(c: MapReader): string {
  const path = c.string('path', '');
  if (path === '') return '/';
  if (!PATH.test(path)) {
    c.problem('path', `"${path}" is not a path prefix: start it with "/", with no spaces, "?" or "#"`);
  } else if (path.split('/').some((seg) => seg === '.' || seg === '..') || path.includes('//')) {
    c.problem('path', `"${path}" has an empty, "." or ".." segment; write the path as clients send it`);
  }
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}

/** One thing a route claims: a host and path, or a TCP port, for a service. */
export interface IngressClaim {
  /** `http <host> <path>` or `tcp <port>`. */
  key: string;
  /** Words for messages: `host "a.example" path "/api"`, `TCP port 9000`. */
  label: string;
  service: string;
  /** The route's path in its job's spec: `groups[0].services[1].ingress[0]`. */
  path: string;
  port?: number;
}

/** The claims of every ingress route of a job's services. */
export function ingressClaims(job: { groups: { services?: ServiceSpec[]; tasks: { services?: ServiceSpec[] }[] }[] }): IngressClaim[] {
  const out: IngressClaim[] = [];
  const add = (services: ServiceSpec[] | undefined, at: string): void =>
    services?.forEach((svc, s) => svc.ingress?.forEach((route, i) => out.push(claimOf(route, svc.name, `${at}.services[${s}].ingress[${i}]`))));
  job.groups.forEach((g, gi) => {
    add(g.services, `groups[${gi}]`);
    g.tasks.forEach((t, ti) => add(t.services, `groups[${gi}].tasks[${ti}]`));
  });
  return out;
}

function claimOf(route: IngressRoute, service: string, path: string): IngressClaim {
  if (route.port !== undefined) return { key: `tcp ${route.port}`, label: `TCP port ${route.port}`, service, path, port: route.port };
  const p = route.path ?? '/';
  return { key: `http ${route.host ?? '*'} ${p}`, label: `host "${route.host ?? '*'}" path "${p}"`, service, path };
}

/** Routes of one job that claim what another of its services claims. */
export function checkIngressClaims(claims: readonly IngressClaim[]): ErrorDetail[] {
  const problems: ErrorDetail[] = [];
  const first = new Map<string, IngressClaim>();
  for (const c of claims) {
    const prior = first.get(c.key);
    if (!prior) first.set(c.key, c);
    else if (prior.service !== c.service) {
      problems.push({ path: c.path, message: `${c.label} is already routed to service "${prior.service}" by ${prior.path}; give one of them another host, path or port` });
    }
  }
  return problems;
}

/** A job's routes that claim what a service of another job claims. */
export function ingressConflicts(job: Parameters<typeof ingressClaims>[0], others: readonly { id: string; groups: Parameters<typeof ingressClaims>[0]['groups'] }[]): ErrorDetail[] {
  const taken = new Map<string, { jobId: string; claim: IngressClaim }>();
  for (const other of others) for (const claim of ingressClaims(other)) if (!taken.has(claim.key)) taken.set(claim.key, { jobId: other.id, claim });
  const problems: ErrorDetail[] = [];
  for (const c of ingressClaims(job)) {
    const prior = taken.get(c.key);
    if (prior && prior.claim.service !== c.service) {
      problems.push({
        path: c.path,
        message: `${c.label} is already routed to service "${prior.claim.service}" of job "${prior.jobId}"; give this route another host, path or port, or stop job "${prior.jobId}" first`,
      });
    }
  }
  return problems;
}

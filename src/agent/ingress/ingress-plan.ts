import type { IngressStatus } from '../../api/index.ts';
import type { Endpoint, HttpRoute } from '../../proxy/index.ts';

/** An address the ingress listens on. */
export interface ListenAddress {
  host: string;
  port: number;
}

/** What an ingress should do, whatever its data path: the routes and each service's passing endpoints. */
export interface IngressPlan {
  /** HTTP routes, on every HTTP address. */
  http: HttpRoute[];
  /** TCP routes: connections to `port` (on each ingress host) go to `service`. */
  tcp: { port: number; service: string }[];
  /** Each routed service's passing instances (an empty list: none healthy); sorted by id. */
  endpoints: Map<string, Endpoint[]>;
}

/**
 * The plan for an answer of `GET /v1/ingress`, pure: only passing instances are endpoints (a
 * failing check takes one out of rotation); the node address and host port are what is dialled.
 * A TCP port claimed twice (the server refuses it at submit) goes to the first service.
 */
export function ingressPlan(status: IngressStatus): IngressPlan {
  const http: HttpRoute[] = [];
  const tcp = new Map<number, string>();
  for (const r of status.routes) {
    if (r.kind === 'tcp' && r.port !== undefined) {
      if (!tcp.has(r.port)) tcp.set(r.port, r.service);
    } else if (r.kind === 'http') {
      const route: HttpRoute = { service: r.service, pathPrefix: r.path ?? '/' };
      if (r.host) route.host = r.host;
      if (!http.some((h) => h.host === route.host && h.pathPrefix === route.pathPrefix)) http.push(route);
    }
  }
  const endpoints = new Map<string, Endpoint[]>();
  for (const s of status.services) {
    endpoints.set(
      s.service,
      s.instances.filter((i) => i.status === 'passing').map((i) => ({ id: i.id, host: i.address, port: i.port })),
    );
  }
  return { http, tcp: [...tcp].map(([port, service]) => ({ port, service })), endpoints };
}

/** Whether two plans route the same way (routes and TCP ports; endpoints aside). */
export function sameRoutes(a: IngressPlan | undefined, b: IngressPlan): boolean {
  return a !== undefined && JSON.stringify([a.http, a.tcp]) === JSON.stringify([b.http, b.tcp]);
}

/** `host:port`, `[v6]:port`, for messages and node meta. */
export function formatAddress(a: ListenAddress): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

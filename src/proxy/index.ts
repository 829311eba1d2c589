/** The connection data path between services: endpoints in, bytes out; no domain types. */
export type { Endpoint } from './endpoint.ts';
export { EndpointPool } from './endpoint-pool.ts';
export type { BalancePolicy, EndpointPoolOptions, EndpointStats, OutlierOptions } from './endpoint-pool.ts';
export type { UpstreamOptions } from './upstream.ts';
export { ServiceListener } from './service-listener.ts';
export type { ServiceListenerOptions, ServiceListenerStats } from './service-listener.ts';
export { checkRoutes, RouteTable } from './route-table.ts';
export type { HttpRoute, RouteProblem } from './route-table.ts';
export { IngressRouter } from './ingress-router.ts';
export type { IngressRouterOptions, IngressServiceStats, IngressStats } from './ingress-router.ts';

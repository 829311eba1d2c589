/** One address the proxy may send a connection to: no domain types, the caller names it. */
export interface Endpoint {
  /** Stable identity across updates (an instance id); state such as ejection follows it. */
  id: string;
  host: string;
  port: number;
}

/** Whether two endpoints with the same id still point at the same address. */
export function sameAddress(a: Endpoint, b: Endpoint): boolean {
  return a.host === b.host && a.port === b.port;
}

/** `host:port`, with brackets around an IPv6 host. */
export function addressOf(endpoint: Endpoint): string {
  return endpoint.host.includes(':') ? `[${endpoint.host}]:${endpoint.port}` : `${endpoint.host}:${endpoint.port}`;
}

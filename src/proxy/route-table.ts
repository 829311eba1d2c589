/** One HTTP route of the ingress: requests for this host and path prefix go to this service. */
export interface HttpRoute {
  /** The service whose endpoints serve the route. */
  service: string;
  /** The Host to match (case-insensitive, port ignored); absent: any host. */
  host?: string;
  /**
   * The path prefix to match, on segment boundaries: `/api` matches `/api`, `/api/` and
   * `/api/v1` but not `/apis`. Absent or `/`: every path.
   */
  pathPrefix?: string;
}

/** A problem with a route list, naming the route by its index. */
export interface RouteProblem {
  path: string;
  message: string;
}

interface Compiled {
  route: HttpRoute;
  host: string | undefined;
  prefix: string;
}

/** A request's host without its port, lower-cased. */
export function hostOnly(host: string | undefined): string {
  if (!host) return '';
  const h = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.split(':')[0];
  return h.toLowerCase();
}

function normalPrefix(prefix: string | undefined): string {
  if (!prefix || prefix === '/') return '/';
  const p = prefix.startsWith('/') ? prefix : `/${prefix}`;
  return p.endsWith('/') ? p.slice(0, -1) : p;
}

function prefixMatches(prefix: string, path: string): boolean {
  if (prefix === '/') return true;
  if (!path.startsWith(prefix)) return false;
  const next = path.charAt(prefix.length);
  return next === '' || next === '/' || next === '?';
}

/** Problems in a route list: a host and path prefix claimed twice, a prefix that is not a path. */
export function checkRoutes(routes: readonly HttpRoute[]): RouteProblem[] {
  const problems: RouteProblem[] = [];
  const claimed = new Map<string, { index: number; service: string }>();
  routes.forEach((route, index) => {
    if (!route.service) problems.push({ path: `routes[${index}].service`, message: 'a route needs the service it sends requests to' });
    if (route.pathPrefix !== undefined && !route.pathPrefix.startsWith('/')) {
      problems.push({ path: `routes[${index}].pathPrefix`, message: `"${route.pathPrefix}" is not a path; start it with "/"` });
    }
    const key = `${hostOnly(route.host)} ${normalPrefix(route.pathPrefix)}`;
    const first = claimed.get(key);
    if (first && first.service !== route.service) {
      problems.push({
        path: `routes[${index}]`,
        message: `host "${route.host ?? '*'}" path "${normalPrefix(route.pathPrefix)}" is already routed to service "${first.service}" by routes[${first.index}]; give one of them another host or path`,
      });
    } else if (!first) claimed.set(key, { index, service: route.service });
  });
  return problems;
}

/**
 * The ingress's routing table: a request goes to the route of its Host with the longest
 * matching path prefix; routes without a host are consulted only when no route of that host
 * matches.
 */
export class RouteTable {
  readonly #byHost = new Map<string, Compiled[]>();
  readonly #anyHost: Compiled[] = [];

  /** Build the table; throws with every problem when the routes conflict (see `checkRoutes`). */
  constructor(routes: readonly HttpRoute[]) {
    const problems = checkRoutes(routes);
    if (problems.length > 0) throw new Error(`Cannot route: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`);
    for (const route of routes) {
      const host = route.host ? hostOnly(route.host) : undefined;
      const compiled = { route, host, prefix: normalPrefix(route.pathPrefix) };
      if (host === undefined) this.#anyHost.push(compiled);
      else {
        const list = this.#byHost.get(host) ?? [];
        list.push(compiled);
        this.#byHost.set(host, list);
      }
    }
    const longestFirst = (a: Compiled, b: Compiled): number => b.prefix.length - a.prefix.length;
    for (const list of this.#byHost.values()) list.sort(longestFirst);
    this.#anyHost.sort(longestFirst);
  }

  /** The route for a request's Host header and URL path; undefined when none matches. */
  match(host: string | undefined, path: string): HttpRoute | undefined {
    const byHost = this.#byHost.get(hostOnly(host));
    return (byHost && first(byHost, path)) ?? first(this.#anyHost, path);
  }
}

function first(list: Compiled[], path: string): HttpRoute | undefined {
  for (const c of list) if (prefixMatches(c.prefix, path)) return c.route;
  return undefined;
}

/**
 * ACL enforcement for every route, in one place. Each route declares what it needs in its route
 * options (`config: { acl: ... }`, see route-acl.ts); the hook here runs on every request before its
 * body is read, finds the caller's token and refuses what the token may not do. A route without a
 * declaration refuses everyone: nothing is left open by accident.
 *
 * Node identity is enforced here too, with ACLs on or off: what an agent says about its own node
 * (heartbeats, allocation updates, re-registration) needs that node's secret.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { IncomingHttpHeaders } from 'node:http';
import { BerthError, type AclScope } from '../../model/index.ts';
import { DENY_ALL } from '../../acl/index.ts';
import type { Clock } from '../../lib/index.ts';
import type { Identity } from '../acl/index.ts';
import type { ServerContext } from '../context.ts';
import { httpStatusOf } from '../../api/index.ts';

/** The header an agent sends its node secret in. */
export const NODE_SECRET_HEADER = 'x-berth-node-secret';
/** The header an agent names its node in, beside the secret, where the route has no node in its path. */
export const NODE_ID_HEADER = 'x-berth-node-id';

/** What a route needs. */
export type RouteAcl =
  /** Anyone, token or not (`/v1/status/leader`, as in Consul). */
  | { public: true }
  /** A capability on an object: `name` picks the object from the request (default: the scope as a whole). */
  | {
      scope: AclScope;
      cap: string | ((request: FastifyRequest) => string);
      name?: (request: FastifyRequest) => string;
      /** Also allowed to the agent of a node that runs an allocation of this job (it reads the job it runs). */
      orAgentOfJob?: (request: FastifyRequest) => string;
    }
  /**
   * A capability on objects the route picks itself (a list it filters, a job spec's id in the body):
   * checked here for the scope as a whole (does any rule grant it?), then by the route per object.
   */
  | { scope: AclScope; cap: string; perObject: true }
  /** Any valid token, the anonymous one included (`token self`). */
  | { anyToken: true }
  /** The node's own agent, by its secret (`:id` is the node); or, when given, a token with this capability. */
  | { node: true; orToken?: { scope: AclScope; cap: string } }
  /** Node registration: a token with `nodes: write` when ACLs are on, and the node's secret if it has registered before. */
  | { nodeRegistration: true }
  /** The handler checks each object it touches itself (`/v1/txn`, the event stream filter). */
  | { inHandler: true };

declare module 'fastify' {
  interface FastifyContextConfig {
    acl?: RouteAcl;
  }
  interface FastifyRequest {
    /** Who made the request; set by the ACL hook before anything else runs. */
    identity: Identity;
  }
}

/** The subprotocol prefix a browser's WebSocket carries its token in. */
export const WS_TOKEN_PREFIX = 'berth.token.';

/**
 * A request's token secret: `Authorization: Bearer`, `X-Berth-Token`, a WebSocket subprotocol
 * `berth.token.<secret>`; on Consul's routes also `X-Consul-Token` and `?token=`.
 */
export function secretOf(headers: IncomingHttpHeaders, url: string): string | undefined {
  const auth = headers.authorization;
  if (typeof auth === 'string' && /^bearer\s+/i.test(auth)) return auth.replace(/^bearer\s+/i, '').trim();
  const berth = headers['x-berth-token'];
  if (typeof berth === 'string' && berth !== '') return berth;
  // A browser gives a WebSocket no headers of its own: the web UI offers its token as a
  // subprotocol (`berth.token.<secret>`, beside `berth`, which the exec upgrade picks), as
  // Kubernetes does for its bearer tokens.
  const offered = headers['sec-websocket-protocol'];
  const viaProtocol = typeof offered === 'string' ? offered.split(',').map((p) => p.trim()).find((p) => p.startsWith(WS_TOKEN_PREFIX)) : undefined;
  if (viaProtocol && viaProtocol.length > WS_TOKEN_PREFIX.length) return viaProtocol.slice(WS_TOKEN_PREFIX.length);
  if (!isConsulPath(url)) return undefined;
  const consul = headers['x-consul-token'];
  if (typeof consul === 'string' && consul !== '') return consul;
  const q = url.indexOf('?');
  if (q < 0) return undefined;
  const token = new URLSearchParams(url.slice(q + 1)).get('token');
  return token === null || token === '' ? undefined : token;
}

const CONSUL_PREFIXES = ['/v1/kv/', '/v1/catalog/', '/v1/health/', '/v1/agent/', '/v1/session/', '/v1/txn', '/v1/status/'];

function isConsulPath(url: string): boolean {
  return CONSUL_PREFIXES.some((p) => url.startsWith(p));
}

/** The refusal of a request whose token lacks a capability: 401 for the anonymous caller, 403 naming it otherwise. */
export function denied(identity: Identity, what: string): BerthError {
  if (identity.accessorId === 'anonymous') {
    return new BerthError('unauthorized', `Permission denied: ${what} needs a token (give one with --token, BERTH_TOKEN or an Authorization: Bearer header)`);
  }
  return new BerthError('forbidden', `Permission denied: the token ${identity.accessorId ?? ''} lacks ${what}`);
}

/** Counts failed token checks per client address and refuses a client past the limit, for a while. */
export class FailureLimiter {
  readonly #failures = new Map<string, { count: number; since: number }>();

  constructor(
    private readonly clock: Clock,
    private readonly limit = 20,
    private readonly windowMs = 10_000,
  ) {}

  /** Throws `rate_limited` while the address is over the limit. */
  check(address: string): void {
    const entry = this.#failures.get(address);
    if (!entry) return;
    if (this.clock.now() - entry.since > this.windowMs) {
      this.#failures.delete(address);
      return;
    }
    if (entry.count >= this.limit) {
      const wait = Math.ceil((entry.since + this.windowMs - this.clock.now()) / 1000);
      throw new BerthError('rate_limited', `Too many requests with invalid tokens from ${address}: try again in ${wait} s`);
    }
  }

  fail(address: string): void {
    const now = this.clock.now();
    const entry = this.#failures.get(address);
    if (!entry || now - entry.since > this.windowMs) {
      if (this.#failures.size > 10_000) this.#failures.clear();
      this.#failures.set(address, { count: 1, since: now });
    } else {
      entry.count++;
    }
  }
}

/** Who the request is (throws 401 for an unknown secret, counted by the limiter). */
export function identify(ctx: ServerContext, limiter: FailureLimiter, request: { headers: IncomingHttpHeaders; url: string; address: string }): Identity {
  const { headers, url, address } = request;
  if (!ctx.acl.enabled) return ctx.acl.resolve(undefined);
  limiter.check(address);
  try {
    return ctx.acl.resolve(secretOf(headers, url));
  } catch (err) {
    limiter.fail(address);
    throw err;
  }
}

/** Does the identity have the capability? Throws the 401/403 that says what is missing. */
// eslint-disable-next-line berth/exported-max-params -- (scope, name, capability) is one ACL rule, in the order policies write it
export function authorize(identity: Identity, scope: AclScope, name: string, cap: string): void {
  if (identity.authorizer.allows(scope, name, cap)) return;
  throw denied(identity, `${scope}: ${cap}${name ? ` on "${name}"` : ''}`);
}

/** May the request read this object? For filtering lists. */
// eslint-disable-next-line berth/exported-max-params -- (scope, name, capability) is one ACL rule, in the order policies write it
export function mayRead(request: FastifyRequest, scope: AclScope, name: string, cap = 'read'): boolean {
  return request.identity.authorizer.allows(scope, name, cap);
}

/** Checks a request against its route's declaration. */
export function enforce(ctx: ServerContext, request: FastifyRequest, acl: RouteAcl | undefined): void {
  const identity = request.identity;
  if (acl === undefined) {
    throw new BerthError('forbidden', `Permission denied: ${request.method} ${request.routeOptions.url ?? request.url} declares no ACL rule, so it refuses every token (a bug: report it)`);
  }
  if ('public' in acl || 'inHandler' in acl) return;
  // A management token (or ACLs off) may do anything but act as a node: skip finding the object.
  if (identity.authorizer.management && 'scope' in acl) return;
  if ('anyToken' in acl) return;
  if ('node' in acl) {
    const nodeId = (request.params as { id?: string }).id ?? '';
    const secret = request.headers[NODE_SECRET_HEADER];
    const known = ctx.view.nodeSecret(nodeId) !== undefined;
    if (known && typeof secret === 'string' && ctx.nodes.checkSecret(nodeId, secret)) return;
    if (acl.orToken && identity.authorizer.allows(acl.orToken.scope, nodeId, acl.orToken.cap)) return;
    // A node not registered (yet): the route answers 404 itself; with ACLs on, nobody may act for it.
    if (!known && !ctx.acl.enabled) return;
    throw new BerthError('forbidden', `Permission denied: only the agent of node "${nodeId}" may do this (its node secret, header ${NODE_SECRET_HEADER}, is missing or wrong)`);
  }
  if ('nodeRegistration' in acl) {
    authorize(identity, 'nodes', '', 'write');
    return;
  }
  if ('perObject' in acl) {
    if (!identity.authorizer.allowsAny(acl.scope, acl.cap)) throw denied(identity, `${acl.scope}: ${acl.cap}`);
    return;
  }
  const cap = typeof acl.cap === 'function' ? acl.cap(request) : acl.cap;
  const name = acl.name ? acl.name(request) : '';
  if (acl.orAgentOfJob && !identity.authorizer.allows(acl.scope, name, cap) && agentRunsJob(ctx, request, acl.orAgentOfJob(request))) return;
  authorize(identity, acl.scope, name, cap);
}

/** Is the caller the agent of a node (by its id and secret) with an allocation of the job? */
function agentRunsJob(ctx: ServerContext, request: FastifyRequest, jobId: string): boolean {
  const nodeId = request.headers[NODE_ID_HEADER];
  const secret = request.headers[NODE_SECRET_HEADER];
  if (typeof nodeId !== 'string' || typeof secret !== 'string' || !ctx.nodes.checkSecret(nodeId, secret)) return false;
  return ctx.view.allocsByJob(jobId).some((a) => a.nodeId === nodeId);
}

/** The headers the server sends an agent it proxies to, proving it is a server. */
export function agentHeaders(ctx: ServerContext, nodeId: string): Record<string, string> {
  const secret = ctx.nodes.proxySecret(nodeId);
  return secret ? { [NODE_SECRET_HEADER]: secret } : {};
}

const limiters = new WeakMap<ServerContext, FailureLimiter>();
const declared = new WeakMap<FastifyInstance, { method: string; url: string; acl: RouteAcl | undefined }[]>();

/** Every route of an app with what it declares (the deny-by-default test walks it). */
export function routeRules(app: FastifyInstance): readonly { method: string; url: string; acl: RouteAcl | undefined }[] {
  return declared.get(app) ?? [];
}

/** The failed-token limiter of a server (shared by its routes and its WebSocket upgrades). */
export function limiterOf(ctx: ServerContext): FailureLimiter {
  let limiter = limiters.get(ctx);
  if (!limiter) limiters.set(ctx, (limiter = new FailureLimiter(ctx.clock)));
  return limiter;
}

/** Install the ACL hook: every request gets an identity, then its route's rule is checked. */
export function addAclGuard(app: FastifyInstance, ctx: ServerContext): void {
  const limiter = limiterOf(ctx);
  const routes: { method: string; url: string; acl: RouteAcl | undefined }[] = [];
  declared.set(app, routes);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) if (method !== 'HEAD') routes.push({ method, url: route.url, acl: (route.config as { acl?: RouteAcl } | undefined)?.acl });
  });
  app.decorateRequest('identity', { getter: () => NOBODY });
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    try {
      const identity = identify(ctx, limiter, { headers: request.headers, url: request.url, address: request.ip });
      Object.defineProperty(request, 'identity', { value: identity, configurable: true });
      // An unknown path answers 404 from the not-found handler; it has no rule to check.
      if (!request.is404) enforce(ctx, request, request.routeOptions.config.acl);
    } catch (err) {
      const e = err instanceof BerthError ? err : new BerthError('internal', (err as Error).message);
      return reply.status(httpStatusOf[e.code]).send(e.toJSON());
    }
  });
}

/** The identity of a request the hook has not seen (none should reach a route). */
const NOBODY: Identity = { accessorId: 'anonymous', authorizer: DENY_ALL };

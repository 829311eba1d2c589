import http from 'node:http';
import type net from 'node:net';
import { ConnectTimeoutError } from './dial.ts';
import type { Endpoint } from './endpoint.ts';
import type { EndpointStats } from './endpoint-pool.ts';
import { requestHeaders, responseHeaders, sendFailure, sendRawFailure, upgradeHead, type ForwardedFacts } from './http-messages.ts';
import { RouteTable, type HttpRoute } from './route-table.ts';
import { splice, Upstream, type UpstreamOptions } from './upstream.ts';
import { boundAddress, listenOn, type BoundAddress } from './listen.ts';

/** Options of an IngressRouter. */
export interface IngressRouterOptions extends UpstreamOptions {
  /** The address to bind. Required: the operator chooses the interface that takes outside traffic. */
  host: string;
  /** The port to bind; 0 picks a free one. Default 0. */
  port?: number;
  /**
   * Time a client has to send a whole request, and a backend to start its answer (after which
   * the client gets a 504); also the longest silence on a connection while a response streams.
   * Default 60 s.
   */
  requestTimeoutMs?: number;
  /** How long a keep-alive connection, from a client or to a backend, may sit idle. Default 60 s. */
  idleTimeoutMs?: number;
  /** The X-Forwarded-Proto sent to backends. Default `http`. */
  proto?: string;
}

/** One service's figures in the ingress. */
export interface IngressServiceStats {
  service: string;
  failedConnects: number;
  ejections: number;
  endpoints: EndpointStats[];
}

/** The ingress's counters. */
export interface IngressStats {
  /** Requests received (upgrades included). */
  requests: number;
  /** Requests being forwarded now. */
  active: number;
  /** Upgraded (WebSocket) connections open now. */
  upgraded: number;
  /** Answers the ingress gave itself, by reason. */
  failures: Record<'no_route' | 'no_healthy_instance' | 'bad_gateway' | 'gateway_timeout', number>;
  services: IngressServiceStats[];
}

/** A service's endpoints, with one keep-alive agent per endpoint (so removing one closes its idle sockets). */
interface ServiceState {
  upstream: Upstream;
  agents: Map<string, http.Agent>;
}

/** One try of a request on one endpoint. */
interface Attempt {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  service: string;
  state: ServiceState;
  endpoint: Endpoint;
  /** Endpoint ids tried for this request so far, this one included. */
  tried: Set<string>;
  /** Whether this is already the retry after a reused socket was closed under the request. */
  retriedReset: boolean;
  bodyless: boolean;
  /** The socket is connected and the request is on its way: no retry elsewhere from here. */
  connected: boolean;
  responded: boolean;
  /** Give back the endpoint's count for least-connections (once). */
  release: () => void;
}

/** Methods a client may repeat without harm (RFC 9110 section 9.2.2), retried once on a keep-alive socket the backend closed. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);

/**
 * The HTTP ingress: a node:http server that routes each request by Host and longest path
 * prefix (`RouteTable`) to an endpoint of the route's service, over keep-alive connections.
 * Connect failures are retried on another endpoint and feed outlier ejection; a WebSocket
 * upgrade is passed through as bytes once the backend is connected. Routes and endpoints change
 * without touching open connections: new requests follow the new table, and an endpoint that
 * is removed gets no new requests, closes its keep-alive sockets once their response is done
 * and its upgraded connections at once.
 *
 * Written on node:http rather than a proxy library: what berth needs beyond forwarding (the
 * pool, retries that feed ejection, per-endpoint agents that a removal retires) sits at the
 * points such libraries hide, and node:http already does the HTTP.
 */
export class IngressRouter {
  readonly #options: IngressRouterOptions;
  readonly #connectTimeoutMs: number;
  readonly #requestTimeoutMs: number;
  readonly #retries: number;
  readonly #server: http.Server;
  readonly #services = new Map<string, ServiceState>();
  readonly #upgraded = new Set<net.Socket>();
  #table = new RouteTable([]);
  #requests = 0;
  #active = 0;
  readonly #failures: IngressStats['failures'] = { no_route: 0, no_healthy_instance: 0, bad_gateway: 0, gateway_timeout: 0 };

  constructor(options: IngressRouterOptions) {
    if (!options.host) throw new Error('Cannot make an ingress: no host given; pass the address to bind (the interface that takes outside traffic)');
    this.#options = options;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 5000;
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 60_000;
    this.#retries = options.retries ?? 2;
    const requestTimeout = this.#requestTimeoutMs;
    this.#server = http.createServer({ requestTimeout, headersTimeout: requestTimeout, keepAliveTimeout: options.idleTimeoutMs ?? 60_000, noDelay: true });
    this.#server.on('request', (req, res) => this.#onRequest(req, res));
    this.#server.on('upgrade', (req, socket, head) => this.#onUpgrade(req, socket as net.Socket, head));
  }

  /** Bind and listen; resolves with the bound address. */
  listen(): Promise<BoundAddress> {
    return listenOn(this.#server, this.#options.host, this.#options.port);
  }

  /** The bound address (after `listen`). */
  address(): BoundAddress {
    return boundAddress(this.#server);
  }

  /** Replace the routes; throws, keeping the old ones, when two services claim a host and path. */
  setRoutes(routes: readonly HttpRoute[]): void {
    this.#table = new RouteTable(routes);
  }

  /** The endpoints of a service (an empty list: its requests get a 503 naming it). */
  setEndpoints(service: string, endpoints: readonly Endpoint[]): void {
    const state = this.#service(service);
    for (const removed of state.upstream.setEndpoints(endpoints)) {
      const agent = state.agents.get(removed.id);
      state.agents.delete(removed.id);
      if (!agent) continue;
      // Requests in flight finish; their sockets then close instead of going back to the pool.
      agent.keepSocketAlive = () => false;
      for (const sockets of Object.values(agent.freeSockets)) for (const s of sockets ?? []) s.destroy();
    }
  }

  /** Counters and each service's endpoints. */
  stats(): IngressStats {
    return {
      requests: this.#requests,
      active: this.#active,
      upgraded: this.#upgraded.size,
      failures: { ...this.#failures },
      services: [...this.#services].map(([service, s]) => ({
        service,
        failedConnects: s.upstream.failedConnects,
        ejections: s.upstream.pool.ejections,
        endpoints: s.upstream.pool.stats(),
      })),
    };
  }

  /** Stop listening and close every connection. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
      for (const s of this.#services.values()) {
        s.upstream.closeAll();
        for (const agent of s.agents.values()) agent.destroy();
      }
      for (const socket of this.#upgraded) socket.destroy();
    });
  }

  #service(name: string): ServiceState {
    let state = this.#services.get(name);
    if (!state) {
      state = { upstream: new Upstream(this.#options), agents: new Map() };
      this.#services.set(name, state);
    }
    return state;
  }

  #agent(state: ServiceState, endpoint: Endpoint): http.Agent {
    let agent = state.agents.get(endpoint.id);
    if (!agent) {
      agent = new http.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 1024, timeout: this.#options.idleTimeoutMs ?? 60_000, scheduling: 'lifo' });
      state.agents.set(endpoint.id, agent);
    }
    return agent;
  }

  #facts(req: http.IncomingMessage): ForwardedFacts {
    return { clientAddress: req.socket.remoteAddress ?? '', proto: this.#options.proto ?? 'http' };
  }

  #fail(req: http.IncomingMessage, res: http.ServerResponse, failure: keyof IngressStats['failures'], message: string, service?: string): void {
    this.#failures[failure]++;
    if (res.headersSent) res.destroy();
    else sendFailure(req, res, { failure, message, service });
  }

  #onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.#requests++;
    const route = this.#table.match(req.headers.host, req.url ?? '/');
    if (!route) return this.#fail(req, res, 'no_route', `no route for host "${req.headers.host ?? ''}" and path "${req.url}"`);
    this.#active++;
    res.once('close', () => this.#active--);
    this.#forward(req, res, route.service, new Set(), false);
  }

  /** Send the request to one endpoint; on a failed connect, to another, up to the retries. */
  #forward(req: http.IncomingMessage, res: http.ServerResponse, service: string, tried: Set<string>, retriedReset: boolean): void {
    const state = this.#service(service);
    const pool = state.upstream.pool;
    const endpoint = pool.pick(tried);
    if (!endpoint) {
      if (tried.size === 0) return this.#fail(req, res, 'no_healthy_instance', `no healthy instance of service "${service}"`, service);
      return this.#fail(req, res, 'bad_gateway', `could not connect to an instance of service "${service}" (tried ${tried.size})`, service);
    }
    tried.add(endpoint.id);
    pool.acquire(endpoint.id);
    let held = true;
    const release = (): void => {
      if (held) pool.release(endpoint.id);
      held = false;
    };
    const proxyReq = http.request({
      host: endpoint.host,
      port: endpoint.port,
      method: req.method,
      path: req.url,
      headers: requestHeaders(req, this.#facts(req)),
      agent: this.#agent(state, endpoint),
      setHost: false,
    });
    const attempt: Attempt = { req, res, service, state, endpoint, tried, retriedReset, bodyless: !hasBody(req), connected: false, responded: false, release };
    const sendBody = (): void => {
      attempt.connected = true;
      if (attempt.bodyless || req.readableEnded) proxyReq.end();
      else req.pipe(proxyReq);
    };
    proxyReq.once('socket', (socket) => {
      if (!socket.connecting) return sendBody();
      const timer = setTimeout(() => proxyReq.destroy(new ConnectTimeoutError(`connect timed out after ${this.#connectTimeoutMs} ms`)), this.#connectTimeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        pool.reportSuccess(endpoint.id);
        sendBody();
      });
      socket.once('close', () => clearTimeout(timer));
    });
    proxyReq.setTimeout(this.#requestTimeoutMs, () => proxyReq.destroy(new GatewayTimeout()));
    proxyReq.once('response', (backendRes) => {
      attempt.responded = true;
      res.writeHead(backendRes.statusCode ?? 502, backendRes.statusMessage, responseHeaders(backendRes));
      backendRes.pipe(res);
      backendRes.once('end', release);
      backendRes.once('error', () => res.destroy());
    });
    proxyReq.on('error', (error) => this.#onBackendError(attempt, proxyReq, error));
    res.once('close', () => {
      release();
      if (!res.writableFinished) proxyReq.destroy();
    });
  }

  /** A request to a backend failed: retry where nothing reached it, else answer 502 or 504. */
  #onBackendError(a: Attempt, proxyReq: http.ClientRequest, error: Error): void {
    a.release();
    if (a.res.destroyed) return;
    const pool = a.state.upstream.pool;
    if (!a.connected) {
      a.state.upstream.failedConnects++;
      pool.reportFailure(a.endpoint.id);
      if (a.tried.size <= this.#retries) return this.#forward(a.req, a.res, a.service, a.tried, a.retriedReset);
      return this.#fail(a.req, a.res, 'bad_gateway', `could not connect to an instance of service "${a.service}": ${error.message}`, a.service);
    }
    // A keep-alive socket the backend closed just as the request went out: try once more.
    if (!a.responded && proxyReq.reusedSocket && !a.retriedReset && IDEMPOTENT.has(a.req.method ?? '') && a.bodyless) {
      a.tried.delete(a.endpoint.id);
      return this.#forward(a.req, a.res, a.service, a.tried, true);
    }
    if (error instanceof GatewayTimeout && !a.responded) {
      return this.#fail(a.req, a.res, 'gateway_timeout', `an instance of service "${a.service}" did not answer within ${this.#requestTimeoutMs} ms`, a.service);
    }
    this.#fail(a.req, a.res, 'bad_gateway', `the instance of service "${a.service}" failed: ${error.message}`, a.service);
  }

  async #onUpgrade(req: http.IncomingMessage, socket: net.Socket, head: Buffer): Promise<void> {
    this.#requests++;
    socket.on('error', () => socket.destroy());
    const route = this.#table.match(req.headers.host, req.url ?? '/');
    if (!route) {
      this.#failures.no_route++;
      return sendRawFailure(req, socket, { failure: 'no_route', message: `no route for host "${req.headers.host ?? ''}" and path "${req.url}"` });
    }
    const state = this.#service(route.service);
    const result = await state.upstream.dial();
    if (!result.ok) {
      const failure = result.reason === 'no-endpoints' ? 'no_healthy_instance' : 'bad_gateway';
      this.#failures[failure]++;
      const message = failure === 'no_healthy_instance' ? `no healthy instance of service "${route.service}"` : `could not connect to an instance of service "${route.service}"`;
      return sendRawFailure(req, socket, { failure, message, service: route.service });
    }
    const backend = result.socket;
    if (socket.destroyed) return void backend.destroy();
    backend.write(upgradeHead(req, this.#facts(req)));
    if (head.length > 0) backend.write(head);
    this.#upgraded.add(socket);
    const release = state.upstream.hold(result.endpoint, { destroy: () => (socket.destroy(), backend.destroy()) });
    splice(socket, backend, () => {
      this.#upgraded.delete(socket);
      release();
    });
  }
}

/** The backend did not answer within the request timeout. */
class GatewayTimeout extends Error {
  constructor() {
    super('timed out');
  }
}

function hasBody(req: http.IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');
}

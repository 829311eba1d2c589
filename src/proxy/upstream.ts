import type net from 'node:net';
import { connectTo } from './dial.ts';
import { addressOf, type Endpoint } from './endpoint.ts';
import { EndpointPool, type EndpointPoolOptions } from './endpoint-pool.ts';

/** Options of an Upstream: how endpoints are chosen, tried and ejected. */
export interface UpstreamOptions extends EndpointPoolOptions {
  /** Time a connect to one endpoint may take. Default 5000 ms (Consul Connect's connect_timeout_ms). */
  connectTimeoutMs?: number;
  /** Further endpoints tried after a failed connect, each a different one. Default 2. */
  retries?: number;
}

/** The outcome of a dial: a connected socket, or why there is none. */
export type DialResult =
  | { ok: true; socket: net.Socket; endpoint: Endpoint }
  | { ok: false; reason: 'no-endpoints' | 'connect-failed'; tried: Endpoint[]; error?: Error };

/** A connection the upstream holds on an endpoint, closed when the endpoint goes away. */
interface Held {
  destroy(): void;
}

/**
 * The endpoints of one service as connections see them: the pool that picks, a dial that
 * retries on other endpoints and feeds outlier detection, and the connections held on each
 * endpoint, so that removing an endpoint closes them (its clients then reconnect elsewhere
 * instead of hanging on an instance that is gone).
 */
export class Upstream {
  readonly pool: EndpointPool;
  readonly #connectTimeoutMs: number;
  readonly #retries: number;
  readonly #held = new Map<string, Set<Held>>();
  /** Connects that failed (each attempt). */
  failedConnects = 0;

  constructor(options: UpstreamOptions = {}) {
    this.pool = new EndpointPool(options);
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 5000;
    this.#retries = options.retries ?? 2;
  }

  /** Route new connections to these endpoints; close the connections held on removed ones. Returns the removed. */
  setEndpoints(endpoints: readonly Endpoint[]): Endpoint[] {
    const removed = this.pool.setEndpoints(endpoints);
    for (const endpoint of removed) {
      const held = this.#held.get(endpoint.id);
      this.#held.delete(endpoint.id);
      for (const h of held ?? []) h.destroy();
    }
    return removed;
  }

  /** Connect to an endpoint the pool picks; on failure try others, up to `retries` more. */
  async dial(): Promise<DialResult> {
    const tried: Endpoint[] = [];
    const exclude = new Set<string>();
    let error: Error | undefined;
    for (let attempt = 0; attempt <= this.#retries; attempt++) {
      const endpoint = this.pool.pick(exclude);
      if (!endpoint) break;
      tried.push(endpoint);
      exclude.add(endpoint.id);
      // A connect in progress counts for least-connections, or a burst would all pick one endpoint.
      this.pool.acquire(endpoint.id);
      try {
        const socket = await connectTo(endpoint, this.#connectTimeoutMs);
        this.pool.reportSuccess(endpoint.id);
        if (!this.pool.has(endpoint)) {
          // Removed while connecting: nothing would close this connection later.
          this.pool.release(endpoint.id);
          socket.destroy();
          continue;
        }
        return { ok: true, socket, endpoint };
      } catch (e) {
        this.pool.release(endpoint.id);
        error = e as Error;
        this.failedConnects++;
        this.pool.reportFailure(endpoint.id);
      }
    }
    return tried.length === 0 ? { ok: false, reason: 'no-endpoints', tried } : { ok: false, reason: 'connect-failed', tried, error };
  }

  /**
   * Hold a connection on an endpoint that `dial` returned (and counted): counted for
   * least-connections until `release` (returned) is called, destroyed if the endpoint is removed
   * first.
   */
  hold(endpoint: Endpoint, connection: Held): () => void {
    let set = this.#held.get(endpoint.id);
    if (!set) {
      set = new Set();
      this.#held.set(endpoint.id, set);
    }
    set.add(connection);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#held.get(endpoint.id)?.delete(connection);
      this.pool.release(endpoint.id);
    };
  }

  /** Close every connection held on every endpoint. */
  closeAll(): void {
    for (const set of this.#held.values()) for (const h of set) h.destroy();
    this.#held.clear();
  }

  /** Endpoint address for messages. */
  static describe(endpoint: Endpoint): string {
    return `${endpoint.id} (${addressOf(endpoint)})`;
  }
}

/**
 * Join two connected sockets: bytes flow both ways through pipe (so a slow reader slows the
 * writer), a FIN from one side is passed on as a FIN to the other (half-close), and an error or
 * an abrupt close on either side destroys both. `onClose` runs once, when both are gone.
 */
export function splice(a: net.Socket, b: net.Socket, onClose: () => void): void {
  let closed = 0;
  const destroyBoth = (): void => {
    a.destroy();
    b.destroy();
  };
  const closeOf = (self: net.Socket, other: net.Socket) => (): void => {
    // A socket that closed after both its FINs has already passed its FIN on, and the other
    // side's FIN reached it: the other finishes writing what it holds and closes on its own.
    const graceful = self.readableEnded && self.writableFinished;
    if (!graceful) other.destroy();
    if (++closed === 2) onClose();
  };
  a.on('error', destroyBoth);
  b.on('error', destroyBoth);
  a.once('close', closeOf(a, b));
  b.once('close', closeOf(b, a));
  a.pipe(b);
  b.pipe(a);
}

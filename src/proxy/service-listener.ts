import net from 'node:net';
import type { Endpoint } from './endpoint.ts';
import type { EndpointStats } from './endpoint-pool.ts';
import { splice, Upstream, type UpstreamOptions } from './upstream.ts';
import { boundAddress, listenOn, type BoundAddress } from './listen.ts';

/** Options of a ServiceListener. */
export interface ServiceListenerOptions extends UpstreamOptions {
  /**
   * The address to bind. Required, with no default, so that nothing ends up on a public
   * interface by accident: the agent passes loopback or the docker bridge's address.
   */
  host: string;
  /** The port to bind; 0 picks a free one. Default 0. */
  port?: number;
  /** Close a joined connection after this long with no data either way (HAProxy's `timeout tunnel`). Default none. */
  idleTimeoutMs?: number;
}

/** A ServiceListener's counters. */
export interface ServiceListenerStats {
  /** Client connections open now (dialling or joined). */
  active: number;
  /** Client connections accepted since the start. */
  total: number;
  /** Connect attempts to endpoints that failed (each retry counts). */
  failedConnects: number;
  /** Clients closed because no endpoint could be reached (none listed, or every try failed). */
  refused: number;
  /** Outlier ejections since the start. */
  ejections: number;
  endpoints: EndpointStats[];
}

/**
 * A TCP listener that forwards each connection to an endpoint of one service: the pool picks it,
 * a failed connect is retried on another, and the two sockets are spliced in this process (no
 * process per connection). `setEndpoints` changes where new connections go without touching
 * open ones, except those of an endpoint that was removed, which it closes.
 */
export class ServiceListener {
  readonly #options: ServiceListenerOptions;
  readonly #upstream: Upstream;
  readonly #server: net.Server;
  readonly #clients = new Set<net.Socket>();
  #total = 0;
  #refused = 0;

  constructor(options: ServiceListenerOptions) {
    if (!options.host) throw new Error('Cannot make a service listener: no host given; pass the address to bind (loopback or a bridge address, never a public one by default)');
    this.#options = options;
    this.#upstream = new Upstream(options);
    this.#server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, (client) => this.#accept(client));
  }

  /** Bind and listen; resolves with the bound address. */
  listen(): Promise<BoundAddress> {
    return listenOn(this.#server, this.#options.host, this.#options.port);
  }

  /** The bound address (after `listen`). */
  address(): BoundAddress {
    return boundAddress(this.#server);
  }

  /** Route new connections to these endpoints; close the open connections of endpoints no longer listed. */
  setEndpoints(endpoints: readonly Endpoint[]): void {
    this.#upstream.setEndpoints(endpoints);
  }

  /** Counters and each endpoint's state. */
  stats(): ServiceListenerStats {
    return {
      active: this.#clients.size,
      total: this.#total,
      failedConnects: this.#upstream.failedConnects,
      refused: this.#refused,
      ejections: this.#upstream.pool.ejections,
      endpoints: this.#upstream.pool.stats(),
    };
  }

  /** Stop listening and close every open connection. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#server.close(() => resolve());
      this.#upstream.closeAll();
      for (const client of this.#clients) client.destroy();
    });
  }

  #accept(client: net.Socket): void {
    this.#total++;
    this.#clients.add(client);
    client.once('close', () => this.#clients.delete(client));
    // A client that goes away while we dial: its error must not be unhandled.
    const onEarlyError = (): void => void client.destroy();
    client.on('error', onEarlyError);
    void this.#upstream.dial().then((result) => {
      client.off('error', onEarlyError);
      if (!result.ok) {
        this.#refused++;
        client.destroy();
        return;
      }
      const { socket, endpoint } = result;
      if (client.destroyed) {
        socket.destroy();
        return;
      }
      const release = this.#upstream.hold(endpoint, { destroy: () => (client.destroy(), socket.destroy()) });
      splice(client, socket, release);
      // A socket's timeout counts reads and writes, so the client's alone sees traffic both ways.
      if (this.#options.idleTimeoutMs) client.setTimeout(this.#options.idleTimeoutMs, () => client.destroy());
      client.resume();
    });
  }
}

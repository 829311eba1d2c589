/**
 * The passing instances of services, followed with blocking queries on the health API (the same
 * `?passing` answer Consul clients read), one query per (service, datacenter) however many
 * listeners want it: a blocking query returns as soon as the service's index moves, so a check
 * that turns critical reaches the listeners within moments of its report, well inside one check
 * interval.
 */
import type { ServerPool } from '../../api/index.ts';
import { backoffDelay, type Clock, type Logger } from '../../lib/index.ts';
import type { Endpoint } from '../../proxy/index.ts';

/** Called with the whole list each time it changes (and once with the current list on subscribe). */
export type EndpointsListener = (endpoints: Endpoint[]) => void;

/** What the feeds need of the agent. */
export interface PassingFeedsDeps {
  servers: ServerPool;
  clock: Clock;
  logger: Logger;
}

interface Feed {
  listeners: Set<EndpointsListener>;
  endpoints: Endpoint[] | undefined;
  stop: AbortController;
}

/** How long a blocking query waits. */
const WAIT = '5m';
/** Retries after a failed query: from 1 s to 30 s apart; only the first failure in a row is logged. */
const RETRY = { baseMs: 1000, maxMs: 30_000 };

/** One blocking query per (service, datacenter) that any listener follows. */
export class PassingFeeds {
  readonly #deps: PassingFeedsDeps;
  readonly #feeds = new Map<string, Feed>();

  constructor(deps: PassingFeedsDeps) {
    this.#deps = deps;
  }

  /** Follow a service's passing instances; returns the function that stops following. */
  subscribe(service: string, datacenter: string | undefined, listener: EndpointsListener): () => void {
    const key = `${service}\u0000${datacenter ?? ''}`;
    let feed = this.#feeds.get(key);
    if (!feed) {
      feed = { listeners: new Set(), endpoints: undefined, stop: new AbortController() };
      this.#feeds.set(key, feed);
      void this.#follow(service, datacenter, feed);
    }
    feed.listeners.add(listener);
    if (feed.endpoints) listener(feed.endpoints);
    const f = feed;
    return () => {
      f.listeners.delete(listener);
      if (f.listeners.size > 0 || this.#feeds.get(key) !== f) return;
      this.#feeds.delete(key);
      f.stop.abort();
    };
  }

  /** Stop every query. */
  close(): void {
    for (const feed of this.#feeds.values()) feed.stop.abort();
    this.#feeds.clear();
  }

  async #follow(service: string, datacenter: string | undefined, feed: Feed): Promise<void> {
    let index = 0;
    let failures = 0;
    const signal = feed.stop.signal;
    while (!signal.aborted) {
      try {
        const dc = datacenter ? `&dc=${encodeURIComponent(datacenter)}` : '';
        const res = await this.#deps.servers.fetch(`/v1/health/service/${encodeURIComponent(service)}?passing${dc}&index=${index}&wait=${WAIT}`, { signal });
        const text = await res.text();
        if (!res.ok) throw new Error(`the health API answered ${res.status}: ${text.slice(0, 200)}`);
        const next = Number(res.headers.get('x-consul-index') ?? 0);
        // An index that went backwards (a restored state) starts over, as Consul's clients do.
        index = next < index ? 0 : next;
        const endpoints = endpointsOf(JSON.parse(text) as HealthEntry[]);
        failures = 0;
        if (!sameEndpoints(feed.endpoints, endpoints)) {
          feed.endpoints = endpoints;
          for (const l of feed.listeners) l(endpoints);
        }
      } catch (err) {
        if (signal.aborted) return;
        if (failures === 0) this.#deps.logger.warn({ service, datacenter, err: (err as Error).message }, 'cannot follow the instances of a service; retrying');
        index = 0;
        await this.#deps.clock.sleep(backoffDelay(failures++, RETRY), signal).catch(() => undefined);
      }
    }
  }
}

interface HealthEntry {
  Node: { Address: string };
  Service: { ID: string; Address: string; Port: number };
}

/** An instance's endpoint: its advertised address (the node's for host ports) and port. */
export function endpointsOf(entries: readonly HealthEntry[]): Endpoint[] {
  return entries
    .filter((e) => e.Service.Port > 0)
    .map((e) => ({ id: e.Service.ID, host: e.Service.Address || e.Node.Address, port: e.Service.Port }))
    .sort((a, b) => a.id.localeCompare(b.id));
}

function sameEndpoints(a: readonly Endpoint[] | undefined, b: readonly Endpoint[]): boolean {
  return a !== undefined && a.length === b.length && a.every((e, i) => e.id === b[i].id && e.host === b[i].host && e.port === b[i].port);
}

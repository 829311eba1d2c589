import type { Clock } from '../lib/index.ts';
import { sameAddress, type Endpoint } from './endpoint.ts';

/** How the next connection's endpoint is chosen. */
export type BalancePolicy = 'round-robin' | 'least-connections';

/**
 * Passive outlier detection, Envoy's shape: an endpoint that fails `consecutiveFailures` connects
 * in a row is ejected for `baseEjectionMs` times the number of times it has been ejected (capped
 * at `maxEjectionMs`), then returns on its own.
 */
export interface OutlierOptions {
  /** Failed connects in a row that eject an endpoint. Default 5 (Envoy's consecutive local-origin failures). */
  consecutiveFailures?: number;
  /** Ejection time of a first ejection. Default 30 s (Envoy's base_ejection_time). */
  baseEjectionMs?: number;
  /** Longest ejection, however often an endpoint was ejected. Default 300 s (Envoy's max_ejection_time). */
  maxEjectionMs?: number;
}

/** Options of an EndpointPool. */
export interface EndpointPoolOptions {
  /** Default round-robin. */
  policy?: BalancePolicy;
  outlier?: OutlierOptions;
  /** Where the ejection times are read. Default the wall clock. */
  clock?: Pick<Clock, 'now'>;
}

/** What the pool knows of one endpoint, as `stats()` shows it. */
export interface EndpointStats {
  endpoint: Endpoint;
  /** Connections (or requests in flight) the caller holds on it now. */
  active: number;
  /** Failed connects since the last success. */
  consecutiveFailures: number;
  /** Until when it is ejected (ms since the epoch); absent when it takes connections. */
  ejectedUntil?: number;
  /** How many times it has been ejected (the multiplier of the next ejection). */
  ejections: number;
}

interface Entry {
  endpoint: Endpoint;
  active: number;
  failures: number;
  ejectedUntil: number;
  ejections: number;
  /** When the last ejection ended: a whole maxEjectionMs without another one forgives them all. */
  lastEjectionEnd: number;
}

/**
 * The endpoints of one service and the state that steers connections among them: the balancing
 * cursor, connections held per endpoint, and outlier ejection. It does no I/O; callers report the
 * outcome of each connect. When every endpoint is ejected it picks among all of them (Envoy's
 * panic mode): a guess beats refusing every client of a service whose instances all blipped.
 */
export class EndpointPool {
  readonly #policy: BalancePolicy;
  readonly #threshold: number;
  readonly #baseMs: number;
  readonly #maxMs: number;
  readonly #clock: Pick<Clock, 'now'>;
  #entries: Entry[] = [];
  #byId = new Map<string, Entry>();
  #cursor = 0;
  #ejectionsTotal = 0;

  constructor(options: EndpointPoolOptions = {}) {
    this.#policy = options.policy ?? 'round-robin';
    this.#threshold = options.outlier?.consecutiveFailures ?? 5;
    this.#baseMs = options.outlier?.baseEjectionMs ?? 30_000;
    this.#maxMs = options.outlier?.maxEjectionMs ?? 300_000;
    this.#clock = options.clock ?? { now: () => Date.now() };
  }

  /**
   * Replace the endpoint list. An endpoint whose id stays keeps its counts and ejection; one
   * whose id is gone, or whose id now names another address, is returned as removed, so that
   * the caller can close what it holds on it.
   */
  setEndpoints(endpoints: readonly Endpoint[]): Endpoint[] {
    const removed: Endpoint[] = [];
    const next = new Map<string, Entry>();
    for (const endpoint of endpoints) {
      if (next.has(endpoint.id)) continue;
      const old = this.#byId.get(endpoint.id);
      if (old && sameAddress(old.endpoint, endpoint)) {
        old.endpoint = endpoint;
        next.set(endpoint.id, old);
      } else {
        next.set(endpoint.id, { endpoint, active: 0, failures: 0, ejectedUntil: 0, ejections: 0, lastEjectionEnd: 0 });
      }
    }
    for (const [id, old] of this.#byId) {
      if (next.get(id) !== old) removed.push(old.endpoint);
    }
    this.#byId = next;
    this.#entries = [...next.values()];
    return removed;
  }

  /** The current endpoints. */
  endpoints(): Endpoint[] {
    return this.#entries.map((e) => e.endpoint);
  }

  /** Whether this endpoint (by id and address) is in the list. */
  has(endpoint: Endpoint): boolean {
    const entry = this.#byId.get(endpoint.id);
    return entry !== undefined && sameAddress(entry.endpoint, endpoint);
  }

  /** The endpoint for the next connection, skipping `exclude` (ids already tried); undefined when none is left. */
  pick(exclude?: ReadonlySet<string>): Endpoint | undefined {
    const now = this.#clock.now();
    let candidates = this.#entries.filter((e) => !exclude?.has(e.endpoint.id));
    if (candidates.length === 0) return undefined;
    const healthy = candidates.filter((e) => e.ejectedUntil <= now);
    if (healthy.length > 0) candidates = healthy;
    const start = this.#cursor++ % candidates.length;
    if (this.#cursor >= Number.MAX_SAFE_INTEGER) this.#cursor = 0;
    if (this.#policy === 'round-robin') return candidates[start].endpoint;
    // Least connections: the fewest held, ties broken by the rotating start so that equal
    // endpoints still take turns.
    let best = candidates[start];
    for (let i = 1; i < candidates.length; i++) {
      const e = candidates[(start + i) % candidates.length];
      if (e.active < best.active) best = e;
    }
    return best.endpoint;
  }

  /** The caller now holds one more connection on this endpoint. */
  acquire(id: string): void {
    const entry = this.#byId.get(id);
    if (entry) entry.active++;
  }

  /** The caller let go of a connection it acquired. */
  release(id: string): void {
    const entry = this.#byId.get(id);
    if (entry && entry.active > 0) entry.active--;
  }

  /** A connect to this endpoint succeeded: its failure streak ends. */
  reportSuccess(id: string): void {
    const entry = this.#byId.get(id);
    if (entry) entry.failures = 0;
  }

  /** A connect to this endpoint failed; returns true when this failure ejected it. */
  reportFailure(id: string): boolean {
    const entry = this.#byId.get(id);
    if (!entry) return false;
    const now = this.#clock.now();
    if (entry.ejectedUntil > now) return false;
    entry.failures++;
    if (entry.failures < this.#threshold) return false;
    if (entry.ejections > 0 && now - entry.lastEjectionEnd >= this.#maxMs) entry.ejections = 0;
    entry.ejections++;
    const duration = Math.min(this.#maxMs, this.#baseMs * entry.ejections);
    entry.ejectedUntil = now + duration;
    entry.lastEjectionEnd = entry.ejectedUntil;
    entry.failures = 0;
    this.#ejectionsTotal++;
    return true;
  }

  /** Ejections since the pool was made. */
  get ejections(): number {
    return this.#ejectionsTotal;
  }

  /** Each endpoint's counts and ejection. */
  stats(): EndpointStats[] {
    const now = this.#clock.now();
    return this.#entries.map((e) => ({
      endpoint: e.endpoint,
      active: e.active,
      consecutiveFailures: e.failures,
      ...(e.ejectedUntil > now ? { ejectedUntil: e.ejectedUntil } : {}),
      ejections: e.ejections,
    }));
  }
}

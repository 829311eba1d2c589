/**
 * Writes to the catalog that do not come from allocations: external services registered through
 * `/v1/agent/service/register`, check results (from agents, or TTL refreshes from anyone), and
 * the expiry of TTL checks and of services critical for longer than they allow.
 */
import { BerthError, type CheckStatus, type ServiceInstance } from '../../model/index.ts';
import { ControlLoop, systemClock, type Clock, type Logger } from '../../lib/index.ts';
import type { StateStore, StateView } from '../../state/index.ts';

/** The node external services are registered on: the server's own, as a Consul agent's. */
export interface LocalNode {
  id: string;
  name: string;
  address: string;
  datacenter: string;
}

/** Options of `CatalogRegistry`. */
export interface CatalogRegistryOptions {
  view: StateView;
  store: StateStore;
  logger: Logger;
  node: LocalNode;
  /** Default: the wall clock. */
  clock?: Clock;
}

/** Longest a timer sleeps before looking again (a clock jump or a missed change). */
const MAX_SLEEP_MS = 60_000;

/** External registrations, check updates and TTL expiry. */
export class CatalogRegistry {
  readonly #o: CatalogRegistryOptions;
  readonly #clock: Clock;
  /** Expires what is due, then sleeps until the next thing falls due (or a change pokes it). */
  readonly #expiry: ControlLoop;
  /** When each TTL check was last refreshed through this server (kept in memory, as a Consul agent does). */
  readonly #ttlSeen = new Map<string, number>();
  /** When expiry started here (this server's term as leader): no TTL runs out before a full TTL after it. */
  #startedAt: number;
  #unsubscribe: (() => void) | undefined;

  constructor(options: CatalogRegistryOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.#startedAt = this.#now();
    this.#expiry = new ControlLoop(() => this.#expire(), {
      intervalMs: MAX_SLEEP_MS,
      clock: this.#clock,
      onError: (err) => this.#o.logger.error({ err }, 'cannot expire catalog checks'),
    });
  }

  #now(): number {
    return this.#clock.now();
  }

  get node(): LocalNode {
    return this.#o.node;
  }

  /** Follow the catalog to keep the expiry timer right. */
  start(): void {
    this.#startedAt = this.#now();
    // Refreshes seen in an earlier term are stale: they went to another leader since.
    this.#ttlSeen.clear();
    this.#unsubscribe?.();
    this.#unsubscribe = this.#o.view.onChange((_rev, changes) => {
      if (changes.some((c) => c.table === 'services')) this.#expiry.poke();
    });
    if (this.#expiry.active) this.#expiry.poke();
    else this.#expiry.start();
  }

  stop(): void {
    this.#unsubscribe?.();
    void this.#expiry.stop();
  }

  /** Add or replace an external service instance. Returns the commit index. */
  async register(instance: ServiceInstance, replaceExistingChecks: boolean): Promise<number> {
    const now = this.#now();
    for (const c of instance.checks) if (c.type === 'ttl') this.#ttlSeen.set(c.id, now);
    const result = await this.#o.store.commitWithRetry((view) => {
      const old = view.serviceInstance(instance.id);
      if (old && old.source.kind !== 'external') {
        throw new BerthError('conflict', `Cannot register service "${instance.id}": an allocation owns that id`);
      }
      const checks = instance.checks.map((c) => {
        const prev = old?.checks.find((p) => p.id === c.id);
        // Re-registering keeps a check's status, as a Consul agent does, unless the body sets one.
        return prev && c.status === 'critical' && c.output === '' ? { ...c, status: prev.status, output: prev.output, criticalSince: prev.criticalSince } : c;
      });
      if (!replaceExistingChecks && old) for (const p of old.checks) if (!checks.some((c) => c.id === p.id)) checks.push(p);
      const value: ServiceInstance = { ...instance, checks, createIndex: old?.createIndex ?? view.index };
      return [{ table: 'services', id: instance.id, value, ifModRevision: view.modRevision('services', instance.id) }];
    });
    return this.#result(result, `register service "${instance.id}"`);
  }

  /** Remove a service instance. Throws not_found when there is none. */
  async deregister(serviceId: string): Promise<number> {
    const result = await this.#o.store.commitWithRetry((view) => {
      if (!view.serviceInstance(serviceId)) throw new BerthError('not_found', `Cannot deregister service "${serviceId}": no such service instance (see \`berth service list\`)`);
      return [{ table: 'services', id: serviceId, value: null, ifModRevision: view.modRevision('services', serviceId) }];
    });
    return this.#result(result, `deregister service "${serviceId}"`);
  }

  /**
   * Set a check's status and output. Only a change is written, so watchers wake for transitions,
   * not for every TTL refresh. Throws not_found for an unknown check.
   */
  async updateCheck(checkId: string, status: CheckStatus, output: string): Promise<number> {
    const now = this.#now();
    if (this.#ttlSeen.has(checkId) || findCheck(this.#o.view, checkId)?.check.type === 'ttl') this.#ttlSeen.set(checkId, now);
    const result = await this.#o.store.commitWithRetry((view) => {
      const found = findCheck(view, checkId);
      if (!found) throw new BerthError('not_found', `Cannot update check "${checkId}": no such check (see /v1/agent/checks)`);
      const { instance, check } = found;
      if (check.status === status && check.output === output) return null;
      const changed = {
        ...check,
        status,
        output,
        updatedAt: now,
        criticalSince: status === 'critical' ? (check.status === 'critical' ? check.criticalSince : now) : undefined,
      };
      const value: ServiceInstance = { ...instance, checks: instance.checks.map((c) => (c.id === checkId ? changed : c)) };
      return [{ table: 'services', id: instance.id, value, ifModRevision: view.modRevision('services', instance.id) }];
    });
    return this.#result(result, `update check "${checkId}"`);
  }

  #result(result: { ok: true; index: number } | { ok: false }, what: string): number {
    if (!result.ok) throw new BerthError('conflict', `Cannot ${what}: the catalog kept changing under the write; try again`);
    return result.index;
  }

  /** What is due now and when the next thing falls due. */
  #due(): { ttl: string[]; deregister: string[]; next: number } {
    const now = this.#now();
    const out = { ttl: [] as string[], deregister: [] as string[], next: now + MAX_SLEEP_MS };
    for (const inst of this.#o.view.serviceInstances()) {
      for (const c of inst.checks) {
        if (c.type === 'ttl' && c.status !== 'critical' && c.spec.ttlMs) {
          const deadline = (this.#ttlSeen.get(c.id) ?? Math.max(this.#startedAt, c.updatedAt)) + c.spec.ttlMs;
          if (deadline <= now) out.ttl.push(c.id);
          else out.next = Math.min(out.next, deadline);
        }
        const after = c.spec.deregisterCriticalAfterMs;
        if (inst.source.kind === 'external' && after && c.status === 'critical' && c.criticalSince !== undefined) {
          const deadline = c.criticalSince + after;
          if (deadline <= now) out.deregister.push(inst.id);
          else out.next = Math.min(out.next, deadline);
        }
      }
    }
    return out;
  }

  /** Expire what is due; returns how long until the next TTL expiry or critical deregistration. */
  async #expire(): Promise<number> {
    const due = this.#due();
    try {
      for (const id of due.ttl) await this.updateCheck(id, 'critical', 'TTL expired').catch(ignoreNotFound);
      for (const id of new Set(due.deregister)) await this.deregister(id).catch(ignoreNotFound);
    } catch (err) {
      this.#o.logger.error({ err }, 'cannot expire catalog checks');
    }
    // What it wrote poked the loop again, which then finds the next deadline.
    return Math.max(0, this.#due().next - this.#now());
  }
}

function ignoreNotFound(err: unknown): void {
  if (!(err instanceof BerthError && err.code === 'not_found')) throw err;
}

/** The instance and check holding a check id. `service:<id>[:n]` ids are found without a scan. */
export function findCheck(view: StateView, checkId: string): { instance: ServiceInstance; check: ServiceInstance['checks'][number] } | undefined {
  const m = /^service:(.+?)(?::\d+)?$/.exec(checkId);
  const candidates = m ? [view.serviceInstance(m[1]), view.serviceInstance(checkId.slice('service:'.length))] : [];
  for (const instance of candidates) {
    const check = instance?.checks.find((c) => c.id === checkId);
    if (instance && check) return { instance, check };
  }
  for (const instance of view.serviceInstances()) {
    const check = instance.checks.find((c) => c.id === checkId);
    if (check) return { instance, check };
  }
  return undefined;
}

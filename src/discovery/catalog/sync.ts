/**
 * The loop that keeps the catalog in step with allocations: a running allocation's services are
 * in it (node address + host port), a stopped, failed or lost one's are not. Level-triggered:
 * each pass derives what should be from the view and writes only the difference, so it does not
 * matter which agent, server or restart caused the change.
 */
import { ControlLoop, systemClock, type Clock, type Logger } from '../../lib/index.ts';
import type { ServiceInstance } from '../../model/index.ts';
import type { StateStore, StateView, TableChange, Write } from '../../state/index.ts';
import { deriveInstances, sameInstance } from './derive.ts';

/** Wait before a pass that failed runs again. */
const RETRY_MS = 100;

/** Passes run on changes; a timed one only after a failure, so this is long. */
const IDLE_MS = 60_000;

/** Options of `CatalogSync`. */
export interface CatalogSyncOptions {
  view: StateView;
  store: StateStore;
  logger: Logger;
  /** For new checks' timestamps and the retry timer. Default: the wall clock. */
  clock?: Clock;
}

/** Registers and deregisters allocations' services as they start and stop. */
export class CatalogSync {
  readonly #o: CatalogSyncOptions;
  readonly #dirty = new Set<string>();
  #all = true;
  #unsubscribe: (() => void) | undefined;
  readonly #clock: Clock;
  readonly #loop: ControlLoop;

  constructor(options: CatalogSyncOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    // A pass that failed asks to run again after RETRY_MS, so that a lasting failure does not spin.
    this.#loop = new ControlLoop(() => this.#syncPass(), { intervalMs: IDLE_MS, clock: this.#clock, onError: () => {} });
  }

  /** Sync everything once, then follow changes. */
  start(): void {
    this.#all = true;
    this.#unsubscribe?.();
    this.#unsubscribe = this.#o.view.onChange((_rev, changes) => this.#onChange(changes));
    // Started again without a stop: the full pass still runs now.
    if (this.#loop.active) this.#loop.poke();
    else this.#loop.start();
  }

  stop(): void {
    this.#unsubscribe?.();
    void this.#loop.stop();
  }

  /** Resolves once no pass is under way (tests). */
  async idle(): Promise<void> {
    for (let pass = this.#loop.idle; ; pass = this.#loop.idle) {
      await pass;
      if (pass === this.#loop.idle) return;
    }
  }

  #onChange(changes: TableChange[]): void {
    for (const c of changes) {
      if (c.table === 'allocs') this.#dirty.add(c.id);
      // A node's address or datacenter is part of every instance on it.
      else if (c.table === 'nodes') for (const a of this.#o.view.allocsByNode(c.id)) this.#dirty.add(a.id);
    }
    if (this.#dirty.size > 0) this.#loop.poke();
  }

  /** A pass of the loop: nothing to do without dirty allocations; after a failure, again in RETRY_MS. */
  async #syncPass(): Promise<number | void> {
    if (this.#dirty.size === 0 && !this.#all) return;
    let ok = false;
    try {
      ok = await this.#pass();
    } catch (err) {
      this.#o.logger.error({ err }, 'cannot sync the service catalog');
    }
    if (!ok) return RETRY_MS;
    // Changes seen during the pass poked the loop: it runs again at once.
  }

  /** One pass over the dirty allocations; false when it lost every race and must run again. */
  async #pass(): Promise<boolean> {
    const all = this.#all;
    const ids = new Set(this.#dirty);
    this.#all = false;
    this.#dirty.clear();
    const result = await this.#o.store.commitWithRetry((view) => {
      const writes = all ? this.#buildAll(view) : this.#build(view, ids);
      return writes.length > 0 ? writes : null;
    });
    if (!result.ok) {
      // Lost every race: try those allocations again on the next pass.
      for (const id of ids) this.#dirty.add(id);
      this.#all ||= all;
    }
    return result.ok;
  }

  #buildAll(view: StateView): Write[] {
    const allocIds = new Set(view.allocs().map((a) => a.id));
    for (const inst of view.serviceInstances()) if (inst.source.kind === 'alloc') allocIds.add(inst.source.allocId);
    return this.#build(view, allocIds);
  }

  #build(view: StateView, allocIds: Set<string>): Write[] {
    const existing = new Map<string, ServiceInstance[]>();
    for (const inst of view.serviceInstances()) {
      if (inst.source.kind !== 'alloc' || !allocIds.has(inst.source.allocId)) continue;
      const list = existing.get(inst.source.allocId) ?? [];
      list.push(inst);
      existing.set(inst.source.allocId, list);
    }
    const writes: Write[] = [];
    const now = this.#clock.now();
    for (const allocId of allocIds) {
      const alloc = view.alloc(allocId);
      const job = alloc && view.jobVersion(alloc.jobId, alloc.jobVersion);
      const node = alloc && view.node(alloc.nodeId);
      const have = existing.get(allocId) ?? [];
      const want = alloc && job && node ? deriveInstances({ alloc, job, node, previous: (id) => view.serviceInstance(id), now, index: view.index }) : [];
      for (const inst of want) {
        const old = have.find((h) => h.id === inst.id);
        if (old && sameInstance(old, inst)) continue;
        writes.push({ table: 'services', id: inst.id, value: inst, ifModRevision: view.modRevision('services', inst.id) });
      }
      for (const old of have) {
        if (!want.some((w) => w.id === old.id)) writes.push({ table: 'services', id: old.id, value: null, ifModRevision: view.modRevision('services', old.id) });
      }
    }
    return writes;
  }
}

/**
 * The loop that keeps the catalog in step with allocations: a running allocation's services are
 * in it (node address + host port), a stopped, failed or lost one's are not. Level-triggered:
 * each pass derives what should be from the view and writes only the difference, so it does not
 * matter which agent, server or restart caused the change.
 */
import type { Logger } from '../../lib/index.ts';
import type { ServiceInstance } from '../../model/index.ts';
import type { StateStore, StateView, TableChange, Write } from '../../state/index.ts';
import { deriveInstances, sameInstance } from './derive.ts';

/** Wait before a pass that failed runs again. */
const RETRY_MS = 100;

/** Options of `CatalogSync`. */
export interface CatalogSyncOptions {
  view: StateView;
  store: StateStore;
  logger: Logger;
  /** Wall clock, for new checks' timestamps. Default Date.now. */
  now?: () => number;
}

/** Registers and deregisters allocations' services as they start and stop. */
export class CatalogSync {
  readonly #o: CatalogSyncOptions;
  readonly #dirty = new Set<string>();
  #all = true;
  #running: Promise<void> | undefined;
  #unsubscribe: (() => void) | undefined;
  #stopped = false;
  #retry: ReturnType<typeof setTimeout> | undefined;

  constructor(options: CatalogSyncOptions) {
    this.#o = options;
  }

  /** Sync everything once, then follow changes. */
  start(): void {
    this.#stopped = false;
    this.#all = true;
    this.#unsubscribe?.();
    this.#unsubscribe = this.#o.view.onChange((_rev, changes) => this.#onChange(changes));
    this.#kick();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#retry);
    this.#unsubscribe?.();
  }

  /** Resolves once no pass is under way (tests). */
  async idle(): Promise<void> {
    while (this.#running) await this.#running;
  }

  #onChange(changes: TableChange[]): void {
    for (const c of changes) {
      if (c.table === 'allocs') this.#dirty.add(c.id);
      // A node's address or datacenter is part of every instance on it.
      else if (c.table === 'nodes') for (const a of this.#o.view.allocsByNode(c.id)) this.#dirty.add(a.id);
    }
    if (this.#dirty.size > 0) this.#kick();
  }

  #kick(): void {
    if (this.#running || this.#stopped || this.#retry) return;
    let failed = false;
    this.#running = this.#pass()
      .then((ok) => void (failed = !ok))
      .catch((err: unknown) => {
        failed = true;
        this.#o.logger.error({ err }, 'cannot sync the service catalog');
      })
      .finally(() => {
        this.#running = undefined;
        if ((this.#dirty.size === 0 && !this.#all) || this.#stopped) return;
        // After a failure wait a little, so that a lasting one does not spin.
        if (!failed) return this.#kick();
        this.#retry = setTimeout(() => {
          this.#retry = undefined;
          this.#kick();
        }, RETRY_MS);
      });
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
    const now = (this.#o.now ?? Date.now)();
    for (const allocId of allocIds) {
      const alloc = view.alloc(allocId);
      const job = alloc && view.jobVersion(alloc.jobId, alloc.jobVersion);
      const node = alloc && view.node(alloc.nodeId);
      const have = existing.get(allocId) ?? [];
      const want = alloc && job && node ? deriveInstances(alloc, job, node, (id) => view.serviceInstance(id), now, view.index) : [];
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

/**
 * The typed in-memory view every server keeps: loaded from the backend at one revision, then kept
 * current from a watch. Reads are memory reads; `snapshot()` freezes a revision for a scheduler
 * pass; the per-table and per-node/job indexes drive blocking queries.
 */
import { BerthError } from '../model/index.ts';
import type { KeyValue, StateBackend, WatchBatch, WatchEvent, Watcher } from './backend.ts';
import { CompactedError } from './backend.ts';
import { StateReader, StateSnapshot } from './snapshot.ts';
import { MutableTables } from './tables-data.ts';
import { STATE_PREFIX, TABLES, parseKey, publicId, rowId, tablePrefix } from './tables.ts';
import type { Table, TableRow } from './tables.ts';

/** One row changed by a revision. For jobVersions the id is `<jobId>/<version>`. */
export interface TableChange {
  table: Table;
  id: string;
  type: 'put' | 'delete';
}

/** Called after the view applied a revision that changed rows. */
export type ChangeListener = (revision: number, changes: TableChange[]) => void;

/** Options of `StateView.open`. */
export interface StateViewOptions {
  /** Deep-freeze rows as they arrive, so that a stray write to one throws. Default: true. */
  freeze?: boolean;
  /**
   * Receives what the view survives: a lost watch (it then reloads everything and watches again),
   * an unreadable row (left out), a listener's exception. Default: rethrown asynchronously.
   */
  onError?: (err: Error) => void;
}

interface Waiter {
  index: number;
  resolve: (reached: boolean) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** Longest wait before retrying a reload after the watch was lost. */
const MAX_RELOAD_BACKOFF_MS = 5000;

/** The live, typed state. Open one per server with `StateView.open(backend)`. */
export class StateView extends StateReader {
  private readonly backend: StateBackend;
  private readonly live: MutableTables;
  private readonly freeze: boolean;
  private readonly onError: ((err: Error) => void) | undefined;
  private readonly modRevisions = new Map<Table, Map<string, number>>(TABLES.map((t) => [t, new Map()]));
  private readonly tableIndexes = new Map<Table, number>();
  private readonly nodeAllocIndexes = new Map<string, number>();
  private readonly jobAllocIndexes = new Map<string, number>();
  private readonly serviceIndexes = new Map<string, number>();
  /** The revision of the last full load: nothing older is tracked at a finer grain. */
  private floor = 0;
  private readonly listeners = new Set<ChangeListener>();
  private waiters: Waiter[] = [];
  private watcher: Watcher | undefined;
  private watchToken = 0;
  private reloadTimer: ReturnType<typeof setTimeout> | undefined;
  private lastSnapshot: StateSnapshot | undefined;
  private closed = false;

  private constructor(backend: StateBackend, options: StateViewOptions) {
    const live = new MutableTables();
    super(live.data, 0);
    this.live = live;
    this.backend = backend;
    this.freeze = options.freeze ?? true;
    this.onError = options.onError;
  }

  /** Load every table at one revision, then follow the backend from the next one. */
  static async open(backend: StateBackend, options: StateViewOptions = {}): Promise<StateView> {
    const view = new StateView(backend, options);
    await view.reload();
    return view;
  }

  /** The revision of a row's last write, 0 when absent: the `ifModRevision` of a CAS write. */
  modRevision(table: Table, id: string): number {
    return this.modRevisions.get(table)!.get(rowId(table, id)) ?? 0;
  }

  /** The last revision that changed anything in the table. */
  tableIndex(table: Table): number {
    return Math.max(this.tableIndexes.get(table) ?? 0, this.floor);
  }

  /** The last revision at which an allocation on the node was put or deleted. */
  nodeAllocsIndex(nodeId: string): number {
    return Math.max(this.nodeAllocIndexes.get(nodeId) ?? 0, this.floor);
  }

  /** The last revision at which an allocation of the job was put or deleted. */
  jobAllocsIndex(jobId: string): number {
    return Math.max(this.jobAllocIndexes.get(jobId) ?? 0, this.floor);
  }

  /** The last revision at which an instance of the service was put or deleted: its X-Consul-Index. */
  serviceIndex(name: string): number {
    return Math.max(this.serviceIndexes.get(name) ?? 0, this.floor);
  }

  /** Listen to applied changes; returns the unsubscribe function. */
  onChange(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves true once `index` has been applied, false after `timeoutMs` or when the view closes. */
  waitForIndex(index: number, timeoutMs: number): Promise<boolean> {
    if (this.current >= index) return Promise.resolve(true);
    if (this.closed) return Promise.resolve(false);
    return new Promise((resolve) => {
      const waiter: Waiter = {
        index,
        resolve,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          resolve(false);
        }, timeoutMs),
      };
      this.waiters.push(waiter);
    });
  }

  /** The state as of now, unchanged by later writes. Cheap: the view copies only what it writes next. */
  snapshot(): StateSnapshot {
    if (this.lastSnapshot?.index !== this.current) this.lastSnapshot = new StateSnapshot(this.live.fork(), this.current);
    return this.lastSnapshot;
  }

  /** Stop following the backend (which stays open). Pending waits resolve false. */
  async close(): Promise<void> {
    this.closed = true;
    this.watchToken++;
    this.watcher?.cancel();
    clearTimeout(this.reloadTimer);
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.resolve(false);
    }
    this.waiters = [];
    this.listeners.clear();
  }

  /**
   * Read every table at one revision, apply the difference to what the view holds (all of it, at
   * first) and watch from the next revision.
   */
  private async reload(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        const first = await this.backend.range({ prefix: tablePrefix(TABLES[0]) });
        const revision = first.revision;
        const rest = await Promise.all(TABLES.slice(1).map((t) => this.backend.range({ prefix: tablePrefix(t) }, { revision })));
        if (this.closed) return;
        this.applyEvents(revision, this.diff(revision, [first, ...rest].flatMap((r) => r.kvs)));
        this.floor = revision;
        await this.follow(revision + 1);
        return;
      } catch (err) {
        // A compaction between the reads: read again at a newer revision.
        if (!(err instanceof CompactedError) || attempt >= 5) throw err;
      }
    }
  }

  /** Puts for rows that are new or changed, deletes for rows gone, as of `revision`. */
  private diff(revision: number, kvs: KeyValue[]): WatchEvent[] {
    const events: WatchEvent[] = [];
    const seen = new Map<Table, Set<string>>(TABLES.map((t) => [t, new Set()]));
    for (const kv of kvs) {
      const parsed = parseKey(kv.key);
      if (!parsed) continue;
      seen.get(parsed.table)!.add(parsed.row);
      if (this.modRevisions.get(parsed.table)!.get(parsed.row) !== kv.modRevision) events.push({ type: 'put', kv });
    }
    for (const [table, revisions] of this.modRevisions) {
      for (const row of revisions.keys()) {
        if (seen.get(table)!.has(row)) continue;
        const key = tablePrefix(table) + row;
        events.push({ type: 'delete', kv: { key, value: '', createRevision: 0, modRevision: revision, version: 0, lease: 0 } });
      }
    }
    return events;
  }

  private async follow(fromRevision: number): Promise<void> {
    const token = ++this.watchToken;
    this.watcher = await this.backend.watch(
      { prefix: STATE_PREFIX },
      (batch) => {
        if (token === this.watchToken) this.apply(batch);
      },
      { fromRevision, onError: (err) => token === this.watchToken && this.lostWatch(err) },
    );
  }

  /** The watch is gone: report it, then reload and watch again, backing off while that fails. */
  private lostWatch(err: Error, delayMs = 100): void {
    this.report(err);
    this.watchToken++;
    this.watcher?.cancel();
    if (this.closed) return;
    this.reloadTimer = setTimeout(() => {
      this.reload().catch((reloadErr: unknown) => {
        if (!this.closed) this.lostWatch(asError(reloadErr), Math.min(delayMs * 2, MAX_RELOAD_BACKOFF_MS));
      });
    }, delayMs);
    this.reloadTimer.unref();
  }

  private apply(batch: WatchBatch): void {
    if (batch.revision > this.current) this.applyEvents(batch.revision, batch.events);
  }

  private applyEvents(revision: number, events: WatchEvent[]): void {
    const changes: TableChange[] = [];
    for (const event of events) {
      const parsed = parseKey(event.kv.key);
      if (!parsed) continue;
      const { table, row } = parsed;
      let value: TableRow[Table] | undefined;
      if (event.type === 'put') {
        value = this.decode(table, row, event.kv);
        // An unreadable row is left out rather than kept stale.
        if (value === undefined && this.modRevisions.get(table)!.get(row) === undefined) continue;
      }
      const old = value === undefined ? this.live.delete(table, row) : this.live.put(table, row, value);
      if (value === undefined) this.modRevisions.get(table)!.delete(row);
      else this.modRevisions.get(table)!.set(row, event.kv.modRevision);
      this.tableIndexes.set(table, revision);
      if (table === 'services') for (const s of [old, value] as (TableRow['services'] | undefined)[]) if (s) this.serviceIndexes.set(s.name, revision);
      if (table === 'nodes') this.touchNodeServices(revision, old as TableRow['nodes'] | undefined, value as TableRow['nodes'] | undefined);
      if (table === 'allocs') this.touchAllocIndexes(revision, old as TableRow['allocs'] | undefined, value as TableRow['allocs'] | undefined);
      changes.push({ table, id: publicId(table, row), type: value === undefined ? 'delete' : 'put' });
    }
    this.current = revision;
    if (changes.length > 0) this.notify(revision, changes);
    this.wake();
  }

  /**
   * A node change that readers of its services see (it went down or came back, or its name,
   * address, datacenter or meta changed) moves the index of every service with an instance on it,
   * so that their blocking queries wake; a heartbeat alone does not.
   */
  private touchNodeServices(revision: number, old: TableRow['nodes'] | undefined, value: TableRow['nodes'] | undefined): void {
    const seen = (n: TableRow['nodes'] | undefined): string => (n ? JSON.stringify([n.name, n.address, n.datacenter, n.status === 'down', n.meta ?? {}]) : '');
    if (seen(old) === seen(value)) return;
    for (const inst of this.instancesOnNode((value ?? old)!.id)) this.serviceIndexes.set(inst.name, revision);
  }

  private touchAllocIndexes(revision: number, ...allocs: (TableRow['allocs'] | undefined)[]): void {
    for (const alloc of allocs) {
      if (!alloc) continue;
      this.nodeAllocIndexes.set(alloc.nodeId, revision);
      this.jobAllocIndexes.set(alloc.jobId, revision);
    }
  }

  private decode(table: Table, row: string, kv: KeyValue): TableRow[Table] | undefined {
    try {
      const value = JSON.parse(kv.value) as TableRow[Table];
      return this.freeze ? deepFreeze(value) : value;
    } catch (err) {
      this.report(new BerthError('internal', `Cannot read ${table} "${publicId(table, row)}" at revision ${kv.modRevision}: ${asError(err).message}`));
      return undefined;
    }
  }

  private notify(revision: number, changes: TableChange[]): void {
    for (const listener of this.listeners) {
      try {
        listener(revision, changes);
      } catch (err) {
        this.report(err);
      }
    }
  }

  private wake(): void {
    if (this.waiters.length === 0) return;
    const still: Waiter[] = [];
    for (const w of this.waiters) {
      if (w.index <= this.current) {
        clearTimeout(w.timer);
        w.resolve(true);
      } else {
        still.push(w);
      }
    }
    this.waiters = still;
  }

  private report(err: unknown): void {
    const error = asError(err);
    if (this.onError) this.onError(error);
    else
      queueMicrotask(() => {
        throw error;
      });
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** Freeze a parsed JSON value and everything in it. */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

import { isTerminal, type Evaluation, type Node } from '../../model/index.ts';
import type { StateStore, StateView, Write } from '../../state/index.ts';
import type { Clock, Logger } from '../../lib/index.ts';

/**
 * Blocked evaluations: what a job could not place waits here until capacity appears (a node
 * becomes ready, eligible or undrained; an allocation stops), then goes back to the broker as a
 * pending evaluation. One blocked evaluation per job: a newer one cancels the older.
 * Level-triggered: the set is rebuilt from the state on start, and every wake re-reads it.
 */
export class BlockedEvals {
  readonly #view: StateView;
  readonly #store: StateStore;
  readonly #clock: Clock;
  readonly #logger: Logger;
  #scheduled = false;
  #active = false;
  /** Wakes done, for tests and metrics. */
  wakes = 0;

  constructor(deps: { view: StateView; store: StateStore; clock: Clock; logger: Logger }) {
    this.#view = deps.view;
    this.#store = deps.store;
    this.#clock = deps.clock;
    this.#logger = deps.logger;
  }

  /** Live allocation ids and nodes that take work, as last seen: what a change is compared with. */
  readonly #live = new Set<string>();
  readonly #takes = new Map<string, boolean>();

  start(): void {
    this.#active = true;
    for (const a of this.#view.allocs()) if (!isTerminal(a)) this.#live.add(a.id);
    for (const n of this.#view.nodes()) this.#takes.set(n.id, takesWork(n));
    for (const e of this.#view.evals()) if (e.status === 'blocked') this.#blocked.add(e.id);
    // Blocked evaluations left by a previous leader: capacity may have changed since.
    this.#scheduleWake('all');
  }

  stop(): void {
    this.#active = false;
  }

  /** Ids of the blocked evaluations, kept as the view changes (scanning every evaluation would not scale). */
  readonly #blocked = new Set<string>();

  /** The blocked evaluations now. */
  blocked(): Evaluation[] {
    const out: Evaluation[] = [];
    for (const id of this.#blocked) {
      const e = this.#view.eval(id);
      if (e?.status === 'blocked') out.push(e);
      else this.#blocked.delete(id);
    }
    return out;
  }

  /** Looks at a changed row; wakes the blocked evaluations when it freed capacity. */
  observe(table: string, id: string): void {
    if (!this.#active) return;
    if (table === 'evals') {
      if (this.#view.eval(id)?.status === 'blocked') {
        this.#blocked.add(id);
        this.#scheduleDedupe();
      } else this.#blocked.delete(id);
    } else if (table === 'nodes') {
      const node = this.#view.node(id);
      const takes = node !== undefined && takesWork(node);
      if (takes && this.#takes.get(id) !== true) this.#scheduleWake('all');
      this.#takes.set(id, takes);
    } else if (table === 'allocs') {
      const alloc = this.#view.alloc(id);
      const live = alloc !== undefined && !isTerminal(alloc);
      if (!live && this.#live.delete(id)) this.#scheduleWake('room');
      else if (live) this.#live.add(id);
    }
  }

  /**
   * `all`: a node can take work it could not before, any blocked evaluation may now fit. `room`:
   * an allocation stopped, which only helps evaluations that ran out of room (cpu, memory, ports,
   * a distinct_* limit), not those no node's attributes allow.
   */
  #scheduleWake(kind: 'all' | 'room'): void {
    if (this.#wake !== 'all') this.#wake = kind;
    this.#schedule();
  }

  #scheduleDedupe(): void {
    this.#schedule();
  }

  #wake: 'all' | 'room' | undefined;

  /** Several changes in one tick make one write. */
  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      const wake = this.#wake;
      this.#wake = undefined;
      this.#run(wake).catch((err: unknown) => this.#logger.error({ err }, 'cannot update blocked evaluations'));
    });
  }

  async #run(wake: 'all' | 'room' | undefined): Promise<void> {
    if (!this.#active) return;
    const now = this.#clock.now();
    const writes: Write[] = [];
    const newest = new Map<string, Evaluation>();
    for (const e of this.blocked()) {
      const other = newest.get(e.jobId);
      if (other === undefined) {
        newest.set(e.jobId, e);
        continue;
      }
      const [older, newer] = other.createTime <= e.createTime ? [other, e] : [e, other];
      newest.set(e.jobId, newer);
      writes.push(this.#write({ ...older, status: 'canceled', statusDescription: `superseded by blocked evaluation ${newer.id}`, modifyTime: now }));
    }
    if (wake !== undefined) {
      for (const e of newest.values()) {
        if (wake === 'room' && !needsRoom(e)) continue;
        writes.push(this.#write({ ...e, status: 'pending', statusDescription: 'capacity changed: trying again', modifyTime: now }));
      }
      if (newest.size > 0) this.wakes++;
    }
    if (writes.length === 0) return;
    const result = await this.#store.commit(writes);
    // A lost race means someone else changed one of them: the next change brings us back.
    if (!result.ok) this.#logger.debug({}, 'blocked evaluations changed meanwhile');
  }

  #write(e: Evaluation): Write {
    return { table: 'evals', id: e.id, value: e, ifModRevision: this.#view.modRevision('evals', e.id) };
  }
}

/** Whether some of what an evaluation could not place lacked room rather than a suitable node. */
function needsRoom(e: Evaluation): boolean {
  return e.failures.some((f) => Object.keys(f.exhausted ?? {}).length > 0 || Object.keys(f.filtered).some((r) => r.startsWith('distinct_') || r.startsWith('port ')));
}

/** A node that can take new work. */
function takesWork(n: Node): boolean {
  return n.status === 'ready' && n.eligible && n.drain === undefined;
}

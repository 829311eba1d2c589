import { isClientTerminal, type Allocation, type Node } from '../../model/index.ts';
import type { StateStore, StateView, Write } from '../../state/index.ts';
import { Controller, type Clock, type Logger } from '../../lib/index.ts';
import { newEvalWrite } from '../evals/index.ts';

/** Drainer settings. */
export interface DrainerOptions {
  /** How often a pass runs while some node drains, besides on changes. Default 1 s. */
  intervalMs?: number;
}

/**
 * The node drainer: moves allocations off draining nodes, a few at a time. Each pass marks up to
 * the group's `migrate.max_parallel` allocations per job and group to migrate, counting those
 * still moving (marked, or replaced by one not yet running), and asks for an evaluation of the job;
 * the scheduler places the replacement and stops the original. At the deadline everything left is
 * marked at once. System jobs go last, or stay with `ignoreSystem`. A node with nothing left to
 * move is done draining and stays ineligible. Level-triggered: each pass reads the state afresh.
 */
export class Drainer extends Controller {
  readonly #view: StateView;
  readonly #store: StateStore;
  readonly #clock: Clock;
  readonly #logger: Logger;

  constructor(deps: { view: StateView; store: StateStore; clock: Clock; logger: Logger }, options: DrainerOptions = {}) {
    super({ what: 'drain', intervalMs: options.intervalMs ?? 1_000, clock: deps.clock, logger: deps.logger });
    this.#view = deps.view;
    this.#store = deps.store;
    this.#clock = deps.clock;
    this.#logger = deps.logger;
  }

  protected pass(): Promise<void> {
    // Most passes find no node draining: they end at once.
    return this.#view.nodes().some((n) => n.drain !== undefined) ? this.#drain() : Promise.resolve();
  }

  async #drain(): Promise<void> {
    const view = this.#view;
    const now = this.#clock.now();
    const writes: Write[] = [];
    const jobs = new Set<string>();
    for (const node of view.nodes()) {
      if (node.drain === undefined) continue;
      const left = view.allocsByNode(node.id).filter((a) => a.desiredStatus === 'run' && !isClientTerminal(a));
      const system = (a: Allocation): boolean => view.job(a.jobId)?.type === 'system';
      const movable = left.filter((a) => !system(a));
      const systemLeft = node.drain.ignoreSystem ? [] : left.filter(system);
      if (movable.length === 0 && systemLeft.length === 0) {
        const value: Node = { ...node, eligible: false };
        delete value.drain;
        writes.push({ table: 'nodes', id: node.id, value, ifModRevision: view.modRevision('nodes', node.id) });
        this.#logger.info({ nodeId: node.id }, 'node drained');
        continue;
      }
      const pastDeadline = node.drain.deadline > 0 && now >= node.drain.deadline;
      // System allocations go once the rest has moved (they serve the node's other work), or at the deadline.
      const batch = pastDeadline ? left.filter((a) => !node.drain!.ignoreSystem || !system(a)) : movable.length > 0 ? this.#nextBatch(movable) : systemLeft;
      for (const a of batch) {
        if (a.migrate === true) continue;
        writes.push({ table: 'allocs', id: a.id, value: { ...a, migrate: true, modifyTime: now }, ifModRevision: view.modRevision('allocs', a.id) });
        jobs.add(a.jobId);
      }
    }
    for (const jobId of jobs) writes.push(newEvalWrite(view.job(jobId) ?? { id: jobId, priority: 50 }, 'node-drain', now).write);
    if (writes.length === 0) return;
    const result = await this.#store.commit(writes);
    // Lost a race with another write: look again with what it wrote.
    if (!result.ok) this.poke();
  }

  /** The allocations that may start moving now: per job and group, max_parallel minus those moving. */
  #nextBatch(movable: Allocation[]): Allocation[] {
    const byGroup = new Map<string, Allocation[]>();
    for (const a of movable) {
      const key = `${a.jobId}\u0000${a.group}`;
      byGroup.set(key, [...(byGroup.get(key) ?? []), a]);
    }
    const out: Allocation[] = [];
    for (const [key, allocs] of byGroup) {
      const [jobId, groupName] = key.split('\u0000');
      const group = this.#view.job(jobId)?.groups.find((g) => g.name === groupName);
      const maxParallel = Math.max(1, group?.migrate?.maxParallel ?? 1);
      const moving = this.#moving(jobId, groupName);
      const room = maxParallel - moving;
      if (room > 0) out.push(...allocs.filter((a) => a.migrate !== true).slice(0, room));
    }
    return out;
  }

  /** Migrations of a group under way: marked and not yet stopped, or replaced by one not yet running. */
  #moving(jobId: string, group: string): number {
    let n = 0;
    for (const a of this.#view.allocsByJob(jobId)) {
      if (a.group !== group) continue;
      if (a.migrate === true && a.desiredStatus === 'run' && !isClientTerminal(a)) n++;
      else if (a.previousAllocation !== undefined && a.desiredStatus === 'run' && a.clientStatus === 'pending' && this.#view.alloc(a.previousAllocation)?.migrate === true) n++;
    }
    return n;
  }
}

import { allocsFit, isClientTerminal, type Allocation, type Plan, type PlanResult } from '../../model/index.ts';
import type { StateStore, StateView, Write } from '../../state/index.ts';
import type { Clock } from '../../lib/index.ts';
import type { ServerMetrics } from '../metrics.ts';

/** What the plan applier needs. */
export interface PlanApplierDeps {
  view: StateView;
  store: StateStore;
  clock: Clock;
  metrics?: ServerMetrics;
}

/**
 * The plan applier: the one place where placements become state. Plans from all workers pass
 * through it one at a time; each is re-checked against the latest state (a worker planned on a
 * snapshot that may be stale) and what still fits is committed in one txn. Partial commits are
 * allowed: the scheduler retries what was rejected on a fresh snapshot.
 *
 * Pipelined, as Nomad's: a plan is checked as soon as the previous one's txn is sent, against the
 * view plus the placements of plans sent and not yet in the view, so on etcd several plans' txns
 * are in flight (and share raft rounds) instead of each waiting for the one before to come back
 * through the watch. A plan's result is given to its worker only once the view shows it.
 */
export class PlanApplier {
  readonly #deps: PlanApplierDeps;
  #tail: Promise<unknown> = Promise.resolve();
  /** Placements of plans sent whose commit the view may not show yet, by node. */
  readonly #inFlight = new Map<string, Set<Allocation>>();

  constructor(deps: PlanApplierDeps) {
    this.#deps = deps;
  }

  /** Check and commit a plan. Plans are checked in the order they are submitted. */
  apply(plan: Plan): Promise<PlanResult> {
    this.#deps.metrics?.planQueue.inc();
    return this.#enqueue(plan, 0).finally(() => this.#deps.metrics?.planQueue.dec());
  }

  /** Queue a check of `plan` behind those sent before it (a retry too, which the queue gauge already counts). */
  #enqueue(plan: Plan, attempt: number): Promise<PlanResult> {
    const sent = this.#tail.then(() => this.#send(plan, attempt));
    this.#tail = sent.catch(() => undefined);
    return sent.then((finish) => finish());
  }

  /** Check the plan and send its txn; what it returns waits for the outcome. */
  #send(plan: Plan, attempt: number): () => Promise<PlanResult> {
    const { writes, result } = this.#check(plan);
    const metrics = this.#deps.metrics;
    if (writes.length === 0) {
      // Nothing held (every placement rejected): the rejections still count.
      metrics?.allocsRejected.inc(result.rejected.length);
      const index = this.#deps.view.index;
      return async () => ({ ...result, index });
    }
    const placed = writes.filter((w) => w.table === 'allocs' && w.ifModRevision === 0).map((w) => w.value as Allocation);
    this.#track(placed, true);
    const sending = this.#deps.store.send(writes);
    return async () => {
      try {
        const { result: committed, settled } = await sending;
        if (committed.ok) {
          await settled();
          metrics?.plansApplied.inc();
          metrics?.allocsPlaced.inc(result.placed.length);
          metrics?.allocsRejected.inc(result.rejected.length);
          return { ...result, index: committed.index };
        }
      } finally {
        this.#track(placed, false);
      }
      // An allocation we stop was changed meanwhile (an agent reported on it): check again.
      if (attempt >= 10) throw new Error(`Cannot apply plan for eval ${plan.evalId}: state kept changing under it`);
      return this.#enqueue(plan, attempt + 1);
    };
  }

  #track(allocs: Allocation[], add: boolean): void {
    for (const a of allocs) {
      let set = this.#inFlight.get(a.nodeId);
      if (add) {
        if (!set) this.#inFlight.set(a.nodeId, (set = new Set()));
        set.add(a);
      } else if (set) {
        set.delete(a);
        if (set.size === 0) this.#inFlight.delete(a.nodeId);
      }
    }
  }

  /** The allocations on a node: the view's, and those of plans sent that it does not show yet. */
  #allocsOn(nodeId: string): Allocation[] {
    const { view } = this.#deps;
    const allocs = view.allocsByNode(nodeId);
    const sent = this.#inFlight.get(nodeId);
    if (!sent) return allocs;
    return [...allocs, ...[...sent].filter((a) => view.alloc(a.id) === undefined)];
  }

  /** Decide, against the latest view, which parts of the plan still hold. */
  #check(plan: Plan): { writes: Write[]; result: Omit<PlanResult, 'index'> } {
    const { view, clock } = this.#deps;
    const now = clock.now();
    const writes: Write[] = [];
    const stopped: string[] = [];
    const stopping = new Set<string>();
    for (const s of plan.stop) {
      const alloc = view.alloc(s.allocId);
      if (!alloc || alloc.desiredStatus === 'stop') continue;
      stopping.add(alloc.id);
      stopped.push(alloc.id);
      const value: Allocation = { ...alloc, desiredStatus: 'stop', desiredDescription: s.description, modifyTime: now };
      // Given up with its node: the agent cannot report, so the server says it is lost.
      if (s.clientStatus === 'lost' && !isClientTerminal(alloc)) {
        value.clientStatus = 'lost';
        value.clientDescription = `node ${view.node(alloc.nodeId)?.name ?? alloc.nodeId} missed its heartbeat`;
      }
      writes.push({ table: 'allocs', id: alloc.id, value, ifModRevision: view.modRevision('allocs', alloc.id) });
    }

    const placed: string[] = [];
    const rejected: string[] = [];
    const byNode = new Map<string, Allocation[]>();
    for (const a of plan.place) {
      const list = byNode.get(a.nodeId);
      if (list) list.push(a);
      else byNode.set(a.nodeId, [a]);
    }
    for (const [nodeId, allocs] of byNode) {
      const node = view.node(nodeId);
      if (!node || node.status !== 'ready' || !node.eligible || node.drain !== undefined) {
        rejected.push(...allocs.map((a) => a.id));
        continue;
      }
      const onNode = this.#allocsOn(nodeId).filter((a) => !stopping.has(a.id));
      for (const alloc of allocs) {
        if (allocsFit(node, [...onNode, alloc]).fits) {
          onNode.push(alloc);
          placed.push(alloc.id);
          writes.push({ table: 'allocs', id: alloc.id, value: { ...alloc, createTime: now, modifyTime: now }, ifModRevision: 0 });
        } else {
          rejected.push(alloc.id);
        }
      }
    }
    writes.push(...this.#updates(plan, stopping, now));
    return { writes, result: { placed, stopped, rejected } };
  }

  /** In-place updates and follow-up marks on live allocations, and the plan's delayed evaluations. */
  #updates(plan: Plan, stopping: ReadonlySet<string>, now: number): Write[] {
    const { view } = this.#deps;
    const writes: Write[] = [];
    for (const u of plan.update ?? []) {
      const alloc = view.alloc(u.id);
      if (!alloc || stopping.has(u.id)) continue;
      // A follow-up mark alone keeps modifyTime: reschedule delays count from it, and moving it
      // would put the reschedule after the follow-up evaluation's own wait (which then holds forever).
      const value: Allocation = { ...alloc, jobVersion: u.jobVersion, modifyTime: u.jobVersion === alloc.jobVersion ? alloc.modifyTime : now };
      if (u.followupEvalId !== undefined) value.followupEvalId = u.followupEvalId;
      // An in-place update joins the new version's deployment, with the health the scheduler gave it.
      if (u.deploymentId !== undefined && u.deploymentId !== alloc.deploymentId) {
        value.deploymentId = u.deploymentId;
        if (u.deploymentHealth === undefined) delete value.deploymentHealth;
        else value.deploymentHealth = u.deploymentHealth;
      }
      writes.push({ table: 'allocs', id: alloc.id, value, ifModRevision: view.modRevision('allocs', alloc.id) });
    }
    for (const e of plan.followups ?? []) writes.push({ table: 'evals', id: e.id, value: e, ifModRevision: 0 });
    return writes;
  }
}

import { BerthError, isClientTerminal, type Allocation, type EvalTrigger, type Node } from '../model/index.ts';
import type { AllocUpdate, HeartbeatResponse, NodeRegisterRequest } from '../api/index.ts';
import type { StateStore, StateView, Write } from '../state/index.ts';
import type { Clock } from '../lib/index.ts';
import type { Logger } from '../lib/index.ts';
import { latestEval, newEvalWrite } from './evals.ts';

/** Node service settings. */
export interface NodeServiceOptions {
  /** Heartbeat TTL floor. Default 10 s. */
  minHeartbeatTtlMs?: number;
  /** Extra time before a node that missed its TTL is marked down. Default 5 s... */
  heartbeatGraceMs?: number;
}

/**
 * Node registration, heartbeats and allocation reports from agents. Heartbeats are kept in memory
 * (a timer per node) and written only when a node's status changes, as Nomad does: a write per
 * heartbeat would cost the state store for nothing.
 */
export class NodeService {
  readonly #view: StateView;
  readonly #store: StateStore;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #minTtl: number;
  readonly #grace: number;
  readonly #timers = new Map<string, NodeJS.Timeout>();
  #active = false;

  constructor(deps: { view: StateView; store: StateStore; clock: Clock; logger: Logger }, options: NodeServiceOptions = {}) {
    this.#view = deps.view;
    this.#store = deps.store;
    this.#clock = deps.clock;
    this.#logger = deps.logger;
    this.#minTtl = options.minHeartbeatTtlMs ?? 10_000;
    this.#grace = options.heartbeatGraceMs ?? 5_000;
  }

  /** The TTL agents are told: at least the floor, longer as the cluster grows (~50 heartbeats/s). */
  heartbeatTtlMs(): number {
    return Math.max(this.#minTtl, Math.ceil((this.#view.nodes().length / 50) * 1000));
  }

  /** Begin watching heartbeats (leader). Known ready nodes get a full TTL plus grace to check in. */
  start(): void {
    this.#active = true;
    for (const node of this.#view.nodes()) if (node.status === 'ready') this.#arm(node.id, this.heartbeatTtlMs() + this.#grace);
  }

  stop(): void {
    this.#active = false;
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
  }

  /** Register or re-register a node; it becomes ready. */
  async register(req: NodeRegisterRequest): Promise<HeartbeatResponse> {
    if (req.portRange.min > req.portRange.max) {
      throw new BerthError('invalid_input', `Cannot register node "${req.name}": port range ${req.portRange.min}-${req.portRange.max} is empty`, [
        { path: 'portRange', message: 'min must not exceed max' },
      ]);
    }
    let becameReady = false;
    const index = await this.#commit((view) => {
      const prev = view.node(req.id);
      becameReady = prev?.status !== 'ready';
      const node: Node = { ...req, status: 'ready', eligible: prev?.eligible ?? true, lastHeartbeat: this.#clock.now() };
      const writes: Write[] = [{ table: 'nodes', id: node.id, value: node, ifModRevision: view.modRevision('nodes', node.id) }];
      if (becameReady) writes.push(...this.#evalsForCapacity(view));
      return writes;
    });
    if (becameReady) this.#logger.info({ nodeId: req.id, name: req.name }, 'node ready');
    this.#arm(req.id);
    return { heartbeatTtlMs: this.heartbeatTtlMs(), index };
  }

  /** A node says it is alive. A node the server marked down becomes ready again. */
  async heartbeat(nodeId: string): Promise<HeartbeatResponse> {
    const node = this.#view.node(nodeId);
    if (!node) throw new BerthError('not_found', `Cannot heartbeat node "${nodeId}": not registered (register it first)`);
    let index = this.#view.index;
    if (node.status !== 'ready') {
      index = await this.#commit((view) => {
        const cur = view.node(nodeId);
        if (!cur) return [];
        const value: Node = { ...cur, status: 'ready', lastHeartbeat: this.#clock.now() };
        return [{ table: 'nodes', id: nodeId, value, ifModRevision: view.modRevision('nodes', nodeId) }, ...this.#evalsForCapacity(view)];
      });
    }
    this.#arm(nodeId);
    return { heartbeatTtlMs: this.heartbeatTtlMs(), index };
  }

  /**
   * Store what an agent reports of its allocations. Reports on allocations of other nodes are refused.
   * A report the scheduler must act on (a wanted allocation that ended, or one marked lost that runs
   * again after its node came back) comes with an evaluation of its job, in the same txn.
   */
  async updateAllocs(nodeId: string, updates: AllocUpdate[]): Promise<number> {
    if (!this.#view.node(nodeId)) throw new BerthError('not_found', `Cannot update allocations of node "${nodeId}": not registered`);
    const seen = new Set<string>();
    for (const [i, u] of updates.entries()) {
      if (seen.has(u.id)) {
        throw new BerthError('invalid_input', `Cannot update allocation ${u.id}: it is reported twice in one request; send its latest state once`, [
          { path: `allocs[${i}].id`, message: 'reported twice' },
        ]);
      }
      seen.add(u.id);
      const alloc = this.#view.alloc(u.id);
      if (alloc && alloc.nodeId !== nodeId) {
        throw new BerthError('invalid_input', `Cannot update allocation ${u.id}: it belongs to node ${alloc.nodeId}, not ${nodeId}`, [
          { path: `allocs[${i}].id`, message: 'allocation is on another node' },
        ]);
      }
    }
    return this.#commit((view) => {
      const now = this.#clock.now();
      const writes: Write[] = [];
      const triggers = new Map<string, EvalTrigger>();
      for (const u of updates) {
        const alloc = view.alloc(u.id);
        // A report on an allocation that was garbage-collected meanwhile has nothing to update.
        if (!alloc) continue;
        const value: Allocation = { ...alloc, clientStatus: u.clientStatus, clientDescription: u.clientDescription, taskStates: u.taskStates, modifyTime: now };
        writes.push({ table: 'allocs', id: alloc.id, value, ifModRevision: view.modRevision('allocs', alloc.id) });
        if (needsEval(alloc, value) && triggers.get(alloc.jobId) !== 'alloc-failure') {
          triggers.set(alloc.jobId, value.clientStatus === 'failed' ? 'alloc-failure' : 'node-update');
        }
      }
      for (const [jobId, trigger] of triggers) writes.push(newEvalWrite(view.job(jobId) ?? { id: jobId, priority: 50 }, trigger, now).write);
      return writes;
    });
  }

  #arm(nodeId: string, ttl = this.heartbeatTtlMs()): void {
    if (!this.#active) return;
    clearTimeout(this.#timers.get(nodeId));
    const timer = setTimeout(() => {
      this.#timers.delete(nodeId);
      this.#markDown(nodeId).catch((err: unknown) => this.#logger.error({ err, nodeId }, 'cannot mark node down'));
    }, ttl + this.#grace);
    timer.unref();
    this.#timers.set(nodeId, timer);
  }

  /** A node missed its TTL: it is down and its allocations are lost, to be replaced elsewhere. */
  async #markDown(nodeId: string): Promise<void> {
    await this.#commit((view) => {
      const node = view.node(nodeId);
      if (!node || node.status === 'down') return [];
      const now = this.#clock.now();
      const writes: Write[] = [{ table: 'nodes', id: nodeId, value: { ...node, status: 'down' }, ifModRevision: view.modRevision('nodes', nodeId) }];
      const jobs = new Set<string>();
      for (const a of view.allocsByNode(nodeId)) {
        if (isClientTerminal(a) || a.desiredStatus === 'stop') continue;
        const value: Allocation = { ...a, clientStatus: 'lost', clientDescription: `node ${node.name} missed its heartbeat`, modifyTime: now };
        writes.push({ table: 'allocs', id: a.id, value, ifModRevision: view.modRevision('allocs', a.id) });
        jobs.add(a.jobId);
      }
      for (const jobId of jobs) writes.push(newEvalWrite(view.job(jobId) ?? { id: jobId, priority: 50 }, 'node-update', now).write);
      return writes;
    });
    this.#logger.warn({ nodeId }, 'node missed its heartbeat: marked down');
  }

  /**
   * New capacity: re-evaluate jobs whose latest evaluation could not place everything. (The
   * scheduler issue replaces this with blocked evaluations.)
   */
  #evalsForCapacity(view: StateView): Write[] {
    const writes: Write[] = [];
    for (const job of view.jobs()) {
      if (job.stop) continue;
      const latest = latestEval(view.evalsByJob(job.id));
      if (latest && latest.status === 'complete' && latest.failures.length > 0) writes.push(newEvalWrite(job, 'node-update', this.#clock.now()).write);
    }
    return writes;
  }

  async #commit(build: (view: StateView) => Write[]): Promise<number> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const writes = build(this.#view);
      if (writes.length === 0) return this.#view.index;
      const result = await this.#store.commit(writes);
      if (result.ok) return result.index;
    }
    throw new BerthError('conflict', 'Cannot update node state: it kept changing concurrently; try again');
  }
}

/**
 * Whether an agent's report changes what the scheduler would decide: an allocation still wanted
 * that ended (its slot may need a replacement), or one that ended (lost with its node) and runs
 * again (its slot may now be held twice).
 */
function needsEval(before: Allocation, after: Allocation): boolean {
  return before.desiredStatus === 'run' && isClientTerminal(before) !== isClientTerminal(after);
}

import { BerthError, isClientTerminal, type Allocation, type EvalTrigger, type Node } from '../../model/index.ts';
import type { AllocUpdate, HeartbeatResponse, NodeRegisterRequest } from '../../api/index.ts';
import type { StateStore, StateView, Write } from '../../state/index.ts';
import type { Clock, Logger, Timer } from '../../lib/index.ts';
import { newEvalWrite } from '../evals/index.ts';
import { timingSafeEqual } from 'node:crypto';

/** Node service settings. */
export interface NodeServiceOptions {
  /** Heartbeat TTL floor. Default 10 s. */
  minHeartbeatTtlMs?: number;
  /** Extra time before a node that missed its TTL is marked down. Default 5 s... */
  heartbeatGraceMs?: number;
  /** Heartbeats per second the TTL is sized for. Default 50. */
  maxHeartbeatsPerSecond?: number;
}

/**
 * Node registration, heartbeats and allocation reports from agents. Heartbeats are kept in memory
 * (a timer per node) and written only when a node's status changes, as Nomad does: a write per
 * heartbeat would cost the state store for nothing. The timers run on the leader; heartbeats that
 * reach another server are forwarded to it (http/leader-forward.ts). The TTLs are deadlines, one per
 * node, on the server's clock, not a ControlLoop: a loop would scan every node to find the one
 * whose time ran out, where a timer fires for exactly that node.
 */
export class NodeService {
  /** Called when a node is marked down for a missed heartbeat (the metrics count it). */
  readonly #onMissed: (() => void) | undefined;
  readonly #view: StateView;
  readonly #store: StateStore;
  /** Where the leader's own decisions (a node marked down) are written: fenced by its term. */
  readonly #leaderStore: StateStore;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #minTtl: number;
  readonly #grace: number;
  readonly #rate: number;
  readonly #timers = new Map<string, Timer>();
  /**
   * When each node last heartbeated here, in memory only (a write per heartbeat is what this
   * service avoids); the node rows keep the registration time. Heartbeats go to the leader, so the
   * leader's map is the one that counts, and a new leader's fills within one TTL.
   */
  readonly #lastSeen = new Map<string, number>();
  #active = false;

  constructor(deps: { view: StateView; store: StateStore; leaderStore?: StateStore; clock: Clock; logger: Logger; onHeartbeatMissed?: () => void }, options: NodeServiceOptions = {}) {
    this.#onMissed = deps.onHeartbeatMissed;
    this.#view = deps.view;
    this.#store = deps.store;
    this.#leaderStore = deps.leaderStore ?? deps.store;
    this.#clock = deps.clock;
    this.#logger = deps.logger;
    this.#minTtl = options.minHeartbeatTtlMs ?? 10_000;
    this.#grace = options.heartbeatGraceMs ?? 5_000;
    this.#rate = options.maxHeartbeatsPerSecond ?? 50;
  }

  /**
   * The TTL agents are told: at least the floor, longer as the cluster grows so that heartbeats
   * arrive at about `maxHeartbeatsPerSecond` (50), plus up to 10% jitter so that agents that
   * registered together do not stay in step.
   */
  heartbeatTtlMs(): number {
    const base = Math.max(this.#minTtl, Math.ceil((this.#view.nodes().length / this.#rate) * 1000));
    return base + Math.floor(Math.random() * base * 0.1);
  }

  /** Begin watching heartbeats (leader). Known ready nodes get a full TTL plus grace to check in. */
  start(): void {
    this.#active = true;
    for (const node of this.#view.nodes()) if (node.status === 'ready') this.#arm(node.id, this.heartbeatTtlMs() + this.#grace);
  }

  stop(): void {
    this.#active = false;
    for (const t of this.#timers.values()) t.cancel();
    this.#timers.clear();
  }

  /**
   * A node row changed (leader): a ready node without a timer (registered through another server)
   * gets one, so that it is marked down if it never heartbeats.
   */
  observe(nodeId: string): void {
    if (!this.#active || this.#timers.has(nodeId)) return;
    if (this.#view.node(nodeId)?.status === 'ready') this.#arm(nodeId);
  }

  /**
   * Register or re-register a node; it becomes ready. The first registration with a secret binds
   * the node's id to it (trust on first use); after that only the same secret may re-register it,
   * so a host cannot take over another's id and, with it, its allocations, logs and exec.
   */
  async register(req: NodeRegisterRequest, secret?: string): Promise<HeartbeatResponse> {
    const stored = this.#view.nodeSecret(req.id);
    if (stored && (secret === undefined || !sameSecret(stored.secret, secret))) {
      throw new BerthError(
        'forbidden',
        `Cannot register node "${req.id}" (${req.name}): it is registered with another node secret. Only its own agent may re-register it; an agent whose data dir was lost registers as a new node with a new data dir`,
      );
    }
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
      // What operators set on the node outlives an agent restart.
      if (prev?.drain !== undefined) node.drain = prev.drain;
      if (prev?.meta !== undefined && node.meta === undefined) node.meta = prev.meta;
      const writes: Write[] = [{ table: 'nodes', id: node.id, value: node, ifModRevision: view.modRevision('nodes', node.id) }];
      // Guarded: of two agents racing to register one new id, only the first binds its secret.
      if (secret !== undefined && !view.nodeSecret(node.id)) writes.push({ table: 'nodeSecrets', id: node.id, value: { id: node.id, secret }, ifModRevision: 0 });
      if (becameReady) writes.push(...this.#systemJobEvals(view, node.id));
      return writes;
    });
    if (becameReady) this.#logger.info({ nodeId: req.id, name: req.name }, 'node ready');
    this.#lastSeen.set(req.id, this.#clock.now());
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
        delete value.downSince;
        return [{ table: 'nodes', id: nodeId, value, ifModRevision: view.modRevision('nodes', nodeId) }, ...this.#nodeEvals(view, nodeId)];
      });
    }
    this.#lastSeen.set(nodeId, this.#clock.now());
    this.#arm(nodeId);
    return { heartbeatTtlMs: this.heartbeatTtlMs(), index };
  }

  /** Is this the secret the node registered with? */
  checkSecret(nodeId: string, secret: string): boolean {
    const stored = this.#view.nodeSecret(nodeId);
    return stored !== undefined && sameSecret(stored.secret, secret);
  }

  /** The secret the servers show a node's agent when they proxy to it (logs, exec, stats). */
  proxySecret(nodeId: string): string | undefined {
    return this.#view.nodeSecret(nodeId)?.secret;
  }

  /** The last heartbeat this server saw of each node, ms since the epoch. */
  lastHeartbeats(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [id, at] of this.#lastSeen) if (this.#view.node(id)) out[id] = at;
    return out;
  }

  /**
   * Start or cancel a drain. Draining makes the node ineligible; the drainer moves its allocations.
   * Canceling leaves what moved where it is and makes the node eligible again.
   */
  async setDrain(nodeId: string, req: { enable: boolean; deadlineMs?: number; ignoreSystem?: boolean }): Promise<{ index: number; node: Node }> {
    const now = this.#clock.now();
    const index = await this.#commit((view) => {
      const node = view.node(nodeId);
      if (!node) throw new BerthError('not_found', `Cannot drain node "${nodeId}": no such node (see \`berth node status\`)`);
      const value: Node = { ...node };
      if (req.enable) {
        const deadlineMs = req.deadlineMs ?? 3_600_000;
        value.drain = { deadline: deadlineMs > 0 ? now + deadlineMs : 0, ignoreSystem: req.ignoreSystem ?? false, startedAt: now };
        value.eligible = false;
      } else {
        delete value.drain;
        value.eligible = true;
      }
      const writes: Write[] = [{ table: 'nodes', id: nodeId, value, ifModRevision: view.modRevision('nodes', nodeId) }];
      if (!req.enable) {
        // What was marked to move and has not moved yet stays.
        for (const a of view.allocsByNode(nodeId)) {
          if (a.migrate !== true || a.desiredStatus !== 'run') continue;
          const rest: Allocation = { ...a, modifyTime: now };
          delete rest.migrate;
          writes.push({ table: 'allocs', id: a.id, value: rest, ifModRevision: view.modRevision('allocs', a.id) });
        }
      }
      return writes;
    });
    return { index, node: this.#view.node(nodeId)! };
  }

  /** Mark a node eligible for new placements or not; what runs there stays. */
  async setEligibility(nodeId: string, eligible: boolean): Promise<{ index: number; node: Node }> {
    const index = await this.#commit((view) => {
      const node = view.node(nodeId);
      if (!node) throw new BerthError('not_found', `Cannot set the eligibility of node "${nodeId}": no such node (see \`berth node status\`)`);
      if (node.drain !== undefined && eligible) {
        throw new BerthError('invalid_input', `Cannot make node "${nodeId}" eligible: it is draining; cancel the drain first (berth node drain ${nodeId} --disable)`);
      }
      if (node.eligible === eligible) return [];
      return [{ table: 'nodes', id: nodeId, value: { ...node, eligible }, ifModRevision: view.modRevision('nodes', nodeId) }];
    });
    return { index, node: this.#view.node(nodeId)! };
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
    this.#timers.get(nodeId)?.cancel();
    const timer = this.#clock.setTimer(() => {
      this.#timers.delete(nodeId);
      this.#markDown(nodeId).catch((err: unknown) => this.#logger.error({ err, nodeId }, 'cannot mark node down'));
    }, ttl + this.#grace);
    this.#timers.set(nodeId, timer);
  }

  /**
   * A node missed its TTL: it is down. The scheduler decides what that means for each allocation
   * (lost and replaced, or waited for under `disconnect.lost_after`), through an evaluation of
   * every job with work there.
   */
  async #markDown(nodeId: string): Promise<void> {
    await this.#commit((view) => {
      const node = view.node(nodeId);
      if (!node || node.status === 'down') return [];
      const value: Node = { ...node, status: 'down', downSince: this.#clock.now() };
      return [{ table: 'nodes', id: nodeId, value, ifModRevision: view.modRevision('nodes', nodeId) }, ...this.#nodeEvals(view, nodeId)];
    }, this.#leaderStore);
    this.#onMissed?.();
    this.#logger.warn({ nodeId }, 'node missed its heartbeat: marked down');
  }

  /** Evaluations of every job with live allocations on a node, and of every system job. */
  #nodeEvals(view: StateView, nodeId: string): Write[] {
    const now = this.#clock.now();
    const jobs = new Set<string>();
    for (const a of view.allocsByNode(nodeId)) if (!isClientTerminal(a) && a.desiredStatus === 'run') jobs.add(a.jobId);
    for (const job of view.jobs()) if (job.type === 'system' && !job.stop) jobs.add(job.id);
    return [...jobs].map((jobId) => ({ ...newEvalWrite(view.job(jobId) ?? { id: jobId, priority: 50 }, 'node-update', now).write }));
  }

  /** A node joined or came back: every system job gets an evaluation, to place on it. */
  #systemJobEvals(view: StateView, nodeId: string): Write[] {
    return this.#nodeEvals(view, nodeId);
  }

  async #commit(build: (view: StateView) => Write[], target = this.#store): Promise<number> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const writes = build(this.#view);
      if (writes.length === 0) return this.#view.index;
      const result = await target.commit(writes);
      if (result.ok) return result.index;
    }
    throw new BerthError('conflict', 'Cannot update node state: it kept changing concurrently; try again');
  }
}

/** Compares in constant time, so that response times do not leak a secret byte by byte. */
function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Whether an agent's report changes what the scheduler would decide: an allocation still wanted
 * that ended (its slot may need a replacement), or one that ended (lost with its node) and runs
 * again (its slot may now be held twice).
 */
function needsEval(before: Allocation, after: Allocation): boolean {
  return before.desiredStatus === 'run' && isClientTerminal(before) !== isClientTerminal(after);
}

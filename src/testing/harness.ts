import { isTerminal, type Allocation, type Evaluation, type Job, type Node, type Plan, type PlanResult } from '../model/index.ts';
import { processEval, type Planner, type ScheduleContext, type State } from '../scheduler/index.ts';

/** Options of `SchedulerHarness`. */
export interface HarnessOptions {
  /** The time every pass sees; default 1_700_000_000_000. */
  now?: number;
  /**
   * Offer `Planner.refreshState`, as the server does; default true. Off, retries exercise the
   * scheduler's own overlay of its committed plan.
   */
  refresh?: boolean;
  /** The cluster's ranking: `binpack` (default) or `spread`. */
  algorithm?: 'binpack' | 'spread';
  /** The dependencies of a job not met now, as the server computes them; absent: never held. */
  waits?: ScheduleContext['waits'];
}

/** Which placements of the next plans the harness refuses, as a plan applier that lost a race would. */
interface Rejection {
  plans: number;
  select: (alloc: Allocation) => boolean;
}

/** What one `run` did. */
export interface RunResult {
  /** The plans submitted during the run, in order. */
  plans: Plan[];
  /** The evaluation as the scheduler last recorded it. */
  eval: Evaluation;
}

/**
 * An in-memory world for scheduler tests: jobs, nodes and allocations behind the scheduler's
 * `State`, and a recording `Planner` that applies each plan to the world, so that a second
 * evaluation sees what the first placed. Ids it makes are deterministic.
 */
export class SchedulerHarness {
  readonly jobs = new Map<string, Job>();
  readonly nodes = new Map<string, Node>();
  readonly allocs = new Map<string, Allocation>();
  /** Every plan submitted, in order. */
  readonly plans: Plan[] = [];
  /** What each plan was answered with, in the same order. */
  readonly results: PlanResult[] = [];
  /** Every evaluation update, in order. */
  readonly evalUpdates: Evaluation[] = [];
  /** Evaluations the scheduler created (blocked, follow-ups), plan follow-ups included, in order. */
  readonly createdEvals: Evaluation[] = [];
  now: number;
  /** The state index; each applied plan advances it. */
  index = 1;
  private readonly refresh: boolean;
  private readonly algorithm: 'binpack' | 'spread' | undefined;
  private readonly waits: ScheduleContext['waits'];
  private readonly rejections: Rejection[] = [];
  private idSeq = 0;

  constructor(options: HarnessOptions = {}) {
    this.now = options.now ?? 1_700_000_000_000;
    this.refresh = options.refresh ?? true;
    this.algorithm = options.algorithm;
    this.waits = options.waits;
  }

  upsertJob(job: Job): this {
    this.jobs.set(job.id, structuredClone(job));
    return this;
  }

  upsertNode(...nodes: Node[]): this {
    for (const node of nodes) this.nodes.set(node.id, structuredClone(node));
    return this;
  }

  upsertAlloc(...allocs: Allocation[]): this {
    for (const alloc of allocs) this.allocs.set(alloc.id, structuredClone(alloc));
    return this;
  }

  /**
   * An immutable snapshot of the world. The harness never mutates a stored object (it replaces
   * it), so copying the tables is enough.
   */
  snapshot(): State {
    const jobs = new Map(this.jobs);
    const nodes = new Map(this.nodes);
    const allocs = [...this.allocs.values()];
    return {
      job: (id) => jobs.get(id),
      nodes: () => [...nodes.values()],
      node: (id) => nodes.get(id),
      allocsByJob: (jobId) => allocs.filter((a) => a.jobId === jobId),
      allocsByNode: (nodeId) => allocs.filter((a) => a.nodeId === nodeId),
    };
  }

  /**
   * Makes the next `plans` plans (default 1) come back with the placements `select` picks
   * (default: all) rejected and not applied.
   */
  rejectNextPlan(options: { plans?: number; select?: (alloc: Allocation) => boolean } = {}): this {
    this.rejections.push({ plans: options.plans ?? 1, select: options.select ?? (() => true) });
    return this;
  }

  /** Records a plan and applies it to the world, minus the placements it was told to reject. */
  async submitPlan(plan: Plan): Promise<PlanResult> {
    this.plans.push(structuredClone(plan));
    const rejection = this.rejections[0];
    if (rejection !== undefined && --rejection.plans === 0) this.rejections.shift();
    const rejected = plan.place.filter((a) => rejection?.select(a) ?? false).map((a) => a.id);
    const placed: string[] = [];
    for (const alloc of plan.place) {
      if (rejected.includes(alloc.id)) continue;
      this.allocs.set(alloc.id, structuredClone(alloc));
      placed.push(alloc.id);
    }
    const stopped: string[] = [];
    for (const { allocId, description, clientStatus } of plan.stop) {
      const alloc = this.allocs.get(allocId);
      if (alloc === undefined) continue;
      this.allocs.set(allocId, { ...alloc, desiredStatus: 'stop', desiredDescription: description, modifyTime: this.now, ...(clientStatus ? { clientStatus } : {}) });
      stopped.push(allocId);
    }
    for (const alloc of plan.update ?? []) if (this.allocs.has(alloc.id)) this.allocs.set(alloc.id, structuredClone(alloc));
    for (const e of plan.followups ?? []) this.createdEvals.push(structuredClone(e));
    const result: PlanResult = { placed, stopped, rejected, index: ++this.index };
    this.results.push(result);
    return result;
  }

  async updateEval(evaluation: Evaluation): Promise<void> {
    this.evalUpdates.push(structuredClone(evaluation));
  }

  /** Deterministic UUID-shaped ids: `00000000-0000-4000-8000-000000000001`, ... */
  readonly newId = (): string => `00000000-0000-4000-8000-${String(++this.idSeq).padStart(12, '0')}`;

  /** The planner the scheduler sees: this harness, with or without `refreshState`. */
  planner(): Planner {
    const planner: Planner = {
      submitPlan: (plan) => this.submitPlan(plan),
      updateEval: (evaluation) => this.updateEval(evaluation),
      createEval: async (evaluation) => {
        this.createdEvals.push(structuredClone(evaluation));
      },
    };
    if (this.refresh) planner.refreshState = async () => this.snapshot();
    return planner;
  }

  /** A schedule context over a fresh snapshot. */
  context(): ScheduleContext {
    return { state: this.snapshot(), planner: this.planner(), now: this.now, newId: this.newId, algorithm: this.algorithm, waits: this.waits };
  }

  /** Processes one evaluation against the world, as an eval worker would. */
  async run(evaluation: Evaluation): Promise<RunResult> {
    const firstPlan = this.plans.length;
    const firstUpdate = this.evalUpdates.length;
    await processEval(evaluation, this.context());
    const update = this.evalUpdates.slice(firstUpdate).findLast((e) => e.id === evaluation.id);
    if (update === undefined) throw new Error(`cannot finish run: evaluation ${evaluation.id} was never updated`);
    return { plans: this.plans.slice(firstPlan), eval: update };
  }

  /** Allocations of a job that run or will run: not terminal. */
  liveAllocs(jobId: string): Allocation[] {
    return [...this.allocs.values()].filter((a) => a.jobId === jobId && !isTerminal(a));
  }
}

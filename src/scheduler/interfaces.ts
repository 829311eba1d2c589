import type { Allocation, Deployment, DependencyWait, Evaluation, Job, Node, Plan, PlanResult } from '../model/index.ts';

/**
 * The scheduler's read-only view of the world. It must not change while the scheduler computes a
 * plan, and it does not: a pass (`computePlan`) reads it synchronously, from its start to the
 * `Planner` call that ends it, and the next pass reads what `Planner.refreshState` returns.
 * So `server/` may pass either an immutable snapshot or the live view itself (its worker does, see
 * `NodeUsageCache.live` in server/evals/node-usage.ts: the view changes only when a write lands,
 * which it cannot do inside a synchronous stretch); tests pass the harness's state.
 */
export interface State {
  /** The job as currently registered, undefined once purged. */
  job(id: string): Job | undefined;
  /** Every node, whatever its status. */
  nodes(): Node[];
  node(id: string): Node | undefined;
  /** Every allocation of a job, terminal ones included. */
  allocsByJob(jobId: string): Allocation[];
  /** Every allocation on a node, terminal ones included. */
  allocsByNode(nodeId: string): Allocation[];
  /**
   * What the node's live allocations take, if the state keeps it at hand; the scheduler sums
   * `allocsByNode` otherwise. An optimization for large clusters: it must agree with that sum.
   */
  nodeUsage?(nodeId: string): NodeUsage | undefined;
  /** The newest deployment of a job; absent in states without deployments (updates then go all at once). */
  latestDeployment?(jobId: string): Deployment | undefined;
}

/** What a node's live (not terminal) allocations take. */
export interface NodeUsage {
  cpuMilli: number;
  memoryMiB: number;
  diskMiB: number;
  count: number;
  ports: ReadonlySet<number>;
}

/** Where a scheduler sends its results. `server/` commits them; the test harness records them. */
export interface Planner {
  /**
   * Submit a plan. The applier re-checks it against the latest state and commits what still fits;
   * `rejected` lists the allocations that no longer did.
   */
  submitPlan(plan: Plan): Promise<PlanResult>;
  /** Record the evaluation's outcome (status, failures). */
  updateEval(evaluation: Evaluation): Promise<void>;
  /**
   * A fresh snapshot that includes at least the write at `minIndex` (a `PlanResult.index`). The
   * scheduler asks for one before it retries a plan that was partly rejected, so that the retry sees
   * what took the room. Optional: without it the retry reads the old snapshot with its own
   * committed plan laid over it.
   */
  refreshState?(minIndex: number): Promise<State>;
  /**
   * Store a new evaluation: a blocked one that waits for capacity, or a follow-up. Optional: without
   * it, what could not be placed is only reported.
   */
  createEval?(evaluation: Evaluation): Promise<void>;
}

/** What a scheduler pass is given besides the state. */
export interface ScheduleContext {
  state: State;
  planner: Planner;
  /** Milliseconds since the epoch; logic never reads the wall clock. */
  now: number;
  /** Makes new allocation ids; deterministic in tests. */
  newId: () => string;
  /** Bin-pack (default) or spread: a cluster setting. */
  algorithm?: 'binpack' | 'spread';
  /** The dependencies of a job not met now (`Job.dependsOn`); absent: placements are never held. */
  waits?: (job: Job) => DependencyWait[];
}

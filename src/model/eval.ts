import type { Allocation } from './alloc.ts';

export type EvalStatus = 'pending' | 'complete' | 'failed' | 'blocked' | 'canceled';

/** Why an evaluation was created. */
export type EvalTrigger =
  | 'job-register'
  | 'job-deregister'
  | 'node-update'
  | 'node-drain'
  | 'alloc-failure'
  | 'retry'
  | 'queued-allocs'
  | 'reschedule'
  | 'max-plan-attempts'
  | 'plan-dry-run'
  | 'deployment-watcher'
  | 'periodic-job'
  | 'job-dispatch'
  | 'job-after'
  | 'job-dependency';

/** Why a group could not be placed, as `job status` and `job plan` show it. */
export interface PlacementFailure {
  group: string;
  /** How many of the group's allocations could not be placed. */
  missing: number;
  nodesEvaluated: number;
  /** Nodes rejected, counted by reason ("memory exhausted", "missing driver docker"). */
  filtered: Record<string, number>;
  /** Of those, the ones rejected for lack of room, by dimension ("memory", "cpu", "ports"). */
  exhausted?: Record<string, number>;
  /** The best scores seen, for `job plan`. */
  topScores?: { nodeId: string; score: number }[];
  /** Per exhausted dimension: what one allocation asks against the most a node had free. */
  shortfall?: Record<string, Shortfall>;
  /** Each node ruled out and why, the first `MAX_NODE_REASONS` of them; the rest are only counted in `nodesOmitted`. */
  nodes?: NodeRejection[];
  /** Nodes ruled out beyond those listed in `nodes`. */
  nodesOmitted?: number;
}

/** How many ruled-out nodes a placement failure lists by name; the rest are counted. */
export const MAX_NODE_REASONS = 20;

/** One node ruled out for a placement, and the reason its checker gave. */
export interface NodeRejection {
  nodeId: string;
  nodeName: string;
  reason: string;
}

/** A dependency that holds a job's placements: which job, which condition, and what it is at now. */
export interface DependencyWait {
  job: string;
  condition: 'started' | 'healthy' | 'completed';
  /** What the dependency is at, e.g. `0 of 1 allocations pass their checks`, `no such job yet`. */
  reason: string;
}

/**
 * What one allocation asks of a dimension and the most free on any node rejected for it. Units:
 * cpu in millicores, memory and disk in MiB, ports and allocations in counts.
 */
export interface Shortfall {
  ask: number;
  mostFree: number;
  /** The node with the most free. */
  nodeId: string;
  nodeName: string;
}

/** A request to the scheduler to reconcile one job. */
export interface Evaluation {
  id: string;
  jobId: string;
  priority: number;
  triggeredBy: EvalTrigger;
  status: EvalStatus;
  statusDescription?: string;
  failures: PlacementFailure[];
  createTime: number;
  modifyTime: number;
  /** Not to be processed before this time (a reschedule delay, a `lost_after`). */
  waitUntil?: number;
  /** The evaluation that made this one (follow-up, blocked). */
  previousEval?: string;
  /** The blocked evaluation made for what this one could not place. */
  blockedEval?: string;
  /** Groups with allocations that could not be placed, and how many. */
  queuedAllocs?: Record<string, number>;
  /** The node whose change triggered this evaluation. */
  nodeId?: string;
  /** The job's placements were held: the dependencies not met yet (see `Job.dependsOn`). */
  held?: DependencyWait[];
}

/** What a scheduler pass wants done. The plan applier checks it against the latest state. */
export interface Plan {
  evalId: string;
  jobId: string;
  /** Allocations to create, by node. */
  place: Allocation[];
  /** Allocations to stop, with the reason. */
  stop: { allocId: string; description: string; clientStatus?: 'lost' }[];
  failures: PlacementFailure[];
  /** Allocations updated in place (new job version, same tasks). */
  update?: Allocation[];
  /** Evaluations to create with the plan: delayed follow-ups (reschedule, lost_after). */
  followups?: Evaluation[];
}

/** What the plan applier committed. */
export interface PlanResult {
  placed: string[];
  stopped: string[];
  /** Allocations that no longer fit when the plan was applied. */
  rejected: string[];
  index: number;
}

import type { Allocation } from './alloc.ts';

export type EvalStatus = 'pending' | 'complete' | 'failed' | 'blocked' | 'canceled';

/** Why an evaluation was created. */
export type EvalTrigger = 'job-register' | 'job-deregister' | 'node-update' | 'alloc-failure' | 'retry';

/** Why a group could not be placed, as `job status` and `job plan` show it. */
export interface PlacementFailure {
  group: string;
  /** How many of the group's allocations could not be placed. */
  missing: number;
  nodesEvaluated: number;
  /** Nodes rejected, counted by reason ("memory exhausted", "missing driver docker"). */
  filtered: Record<string, number>;
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
}

/** What a scheduler pass wants done. The plan applier checks it against the latest state. */
export interface Plan {
  evalId: string;
  jobId: string;
  /** Allocations to create, by node. */
  place: Allocation[];
  /** Allocations to stop, with the reason. */
  stop: { allocId: string; description: string }[];
  failures: PlacementFailure[];
}

/** What the plan applier committed. */
export interface PlanResult {
  placed: string[];
  stopped: string[];
  /** Allocations that no longer fit when the plan was applied. */
  rejected: string[];
  index: number;
}

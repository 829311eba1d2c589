/** The scheduler: pure, deterministic placement of jobs, seen through `State` and `Planner`. */
export type { NodeUsage, Planner, ScheduleContext, State } from './interfaces.ts';
export { processEval, MAX_ATTEMPTS, explain } from './process-eval.ts';
export { computePlan, type ComputedPlan, type PassOptions } from './compute-plan.ts';
export { reconcileSystem } from './system.ts';
export { rescheduleDelay, rescheduleVerdict, reschedulePolicy, DEFAULT_RESCHEDULE, type RescheduleVerdict } from './reschedule.ts';
export { checkOperator, nodeMatches, resolveAttribute, constraintReason } from './constraints.ts';
export { candidateLimit, type SelectOptions } from './stack.ts';
export { specHash } from './spec-hash.ts';
export { JobPresence } from './presence.ts';
export { reconcile, allocName, RULES, type PlaceRequest, type ReconcileResult, type StopRequest, type Followup, type ReconcileOptions } from './reconcile.ts';
export {
  FEASIBILITY_CHAIN,
  checkNode,
  constraintChecker,
  datacenterChecker,
  distinctChecker,
  driverChecker,
  groupConstraints,
  maxAllocsChecker,
  groupDemand,
  nodeReadyChecker,
  portChecker,
  resourceChecker,
  type Demand,
  type Feasibility,
  type FeasibilityChecker,
  type GroupConstraint,
  type PlacementAsk,
} from './feasible.ts';
export { affinityScore, antiAffinityScore, binPackScore, rankNode, spreadFitScore, spreadScore, type RankOptions, type SchedulerAlgorithm } from './rank.ts';
export { selectNode, type Selection, type SelectMetrics } from './stack.ts';
export { PlanUsage, type NodeUsed } from './plan-usage.ts';

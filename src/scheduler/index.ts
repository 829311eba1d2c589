/** The scheduler: pure, deterministic placement of jobs, seen through `State` and `Planner`. */
export type { Planner, ScheduleContext, State } from './interfaces.ts';
export { processEval, MAX_ATTEMPTS } from './process-eval.ts';
export { computePlan, type PassOptions } from './compute-plan.ts';
export { reconcile, allocName, type PlaceRequest, type ReconcileResult, type StopRequest } from './reconcile.ts';
export {
  FEASIBILITY_CHAIN,
  checkNode,
  datacenterChecker,
  driverChecker,
  groupDemand,
  nodeReadyChecker,
  portChecker,
  resourceChecker,
  type Demand,
  type Feasibility,
  type FeasibilityChecker,
  type PlacementAsk,
} from './feasible.ts';
export { binPackScore } from './rank.ts';
export { selectNode, type Selection, type SelectMetrics } from './stack.ts';
export { PlanUsage, type NodeUsed } from './usage.ts';

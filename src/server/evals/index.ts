/** The evaluation pipeline: evaluations as writes, the broker, the workers, the plan applier, blocked evaluations. */
export { newEvalWrite, latestEval } from './eval-records.ts';
export { EvalBroker, type BrokerOptions, type Delivery } from './broker.ts';
export { Worker, type WorkerDeps } from './worker.ts';
export { PlanApplier, type PlanApplierDeps } from './plan-apply.ts';
export { BlockedEvals } from './blocked-evals.ts';
export { NodeUsageCache } from './node-usage.ts';

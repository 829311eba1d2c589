/** Periodic, dependent and parameterized jobs: the dispatcher (cron, `after`), dispatch, cycle checks of `after`. */
export { PeriodicDispatcher, upcoming, isTemplate, type DispatcherOptions } from './dispatcher.ts';
export { dispatchJob, type DispatchRequest } from './dispatch.ts';
export { checkNoCycle, parentsOf } from './graph.ts';
export { observeRun } from './launch.ts';
export { lastResult, type ParentResult } from './dependencies.ts';
export { runDeletes } from './prune.ts';

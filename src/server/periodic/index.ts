/** Periodic, dependent and parameterized jobs: the dispatcher (cron, `after`), dispatch, the job graph. */
export { PeriodicDispatcher, upcoming, isTemplate, type DispatcherOptions } from './dispatcher.ts';
export { dispatchJob, type DispatchRequest } from './dispatch.ts';
export { checkNoCycle, jobGraph, graphDot } from './graph.ts';
export type { GraphNode, GraphEdge, JobGraph } from '../../api/index.ts';
export { observeRun } from './launch.ts';
export { lastResult, type ParentResult } from './dependencies.ts';
export { runDeletes } from './prune.ts';

/** Dependencies between jobs (`after:` with conditions): their conditions, the watcher that wakes held jobs, mark-success, the graph. */
export { dependencyWaits, dependencyStates, withDependencies, unmet, lastStart, type DependencyState } from './conditions.ts';
export { DependencyWatcher, type DependencyWatcherDeps } from './dependency-watcher.ts';
export { markSuccess, type MarkSuccessRequest } from './mark-success.ts';
export { jobGraph, graphDot } from './graph.ts';

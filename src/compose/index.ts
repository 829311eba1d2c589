/** Compose projects: reading them as the Compose Specification defines them, and mapping them to berth job specs. */
export { loadProject, discoverFiles, normalizeProjectName, DEFAULT_FILES, type LoadOptions, type ReadFile } from './load.ts';
export { mapProject, specsYaml, afterEntries, jobsTakeConditions, type MapOptions, type MapResult, type MappedService, type Dependency } from './map.ts';
export { interpolateString } from './interpolate.ts';
export { cycleMessage, dependencyOrder } from './order.ts';
export type { ComposeProject, ComposeService, ComposeWarning, ComposeProblem, LoadResult } from './types.ts';

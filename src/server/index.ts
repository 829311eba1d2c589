/** The control plane runtime. */
export { Server } from './server.ts';
export type { ServerOptions } from './server.ts';
export { buildApp } from './http/index.ts';
export { ServerMetrics } from './metrics.ts';
export { openEtcdState, openSqliteState } from './open-state.ts';
/** The plan applier alone: bench/scheduler.ts commits through it for its floor. */
export { PlanApplier } from './evals/index.ts';
export type { EtcdTlsFiles } from './open-state.ts';
export type { ServerMember } from './cluster/index.ts';
export type { StateBackend } from '../state/index.ts';
export { parseAddressRange } from './jobs/index.ts';

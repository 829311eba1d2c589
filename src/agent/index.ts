/** A host's runtime: fingerprint, registration, heartbeats, allocation and task runners. */
export { Agent } from './agent.ts';
export type { AgentOptions } from './agent.ts';
export { AgentMetrics } from './metrics.ts';
export { resolveNodeAddresses, type NodeAddresses } from './node/address.ts';
export type { DockerTlsFiles } from '../drivers/index.ts';
export { BuiltinIngress, HaproxyIngress, type IngressPlan, type IngressSettings } from './ingress/index.ts';

/** Nodes: registration, heartbeats and their timers, allocation updates from agents, the drainer. */
export { NodeService, type NodeServiceOptions } from './node-service.ts';
export { Drainer, type DrainerOptions } from './drainer.ts';

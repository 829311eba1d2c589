import type { DriverName } from './job.ts';

/** What a driver reports about itself on a node. */
export interface DriverInfo {
  detected: boolean;
  healthy: boolean;
  version?: string;
  /** Why it is not healthy, when it is not. */
  detail?: string;
  /** Docker: the host's address on the default bridge (its gateway), where containers reach the host. */
  bridgeAddress?: string;
  /** Docker: the engine's ID (`docker info`), which tells a client whether an engine it reaches is this node's. */
  engineId?: string;
}

export type NodeStatus = 'initializing' | 'ready' | 'down';

/** A host running `berth agent`. */
export interface Node {
  id: string;
  name: string;
  datacenter: string;
  /** Address tasks' host ports are reachable at. */
  address: string;
  /** The agent's own HTTP endpoint, used by the server to proxy logs. */
  httpAddr: string;
  status: NodeStatus;
  eligible: boolean;
  /** Fingerprinted facts: os, arch, cores, memory, docker version. */
  attributes: Record<string, string>;
  drivers: Partial<Record<DriverName, DriverInfo>>;
  /** The driver for tasks that name none. */
  defaultDriver: DriverName;
  resources: { cpu: number; memoryMiB: number; diskMiB?: number };
  /** Most allocations the node takes, whatever their size; absent: no limit. */
  maxAllocs?: number;
  /** Host ports tasks may get when they ask for a dynamic one. */
  portRange: { min: number; max: number };
  /** Milliseconds since the epoch of the last heartbeat the server saw. */
  lastHeartbeat: number;
  /** A class of node (`${node.class}` in constraints). */
  nodeClass?: string;
  /** Operator-set metadata (`${meta.<name>}` in constraints). */
  meta?: Record<string, string>;
  /** Set while the node is being drained: its allocations move elsewhere. */
  drain?: DrainStrategy;
  /** Milliseconds since the epoch when the node went down (for `disconnect.lost_after`). */
  downSince?: number;
}

/** How a node is drained. */
export interface DrainStrategy {
  /** Epoch ms after which what is left is stopped at once; 0: no deadline. */
  deadline: number;
  /** Leave system jobs' allocations running. */
  ignoreSystem: boolean;
  startedAt: number;
}

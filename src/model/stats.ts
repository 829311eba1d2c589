/** What a task uses right now, as its driver measures it. */
export interface TaskUsage {
  /** CPU in percent of one core (150 = one and a half cores busy). */
  cpuPercent: number;
  /** Resident memory in bytes (Docker: usage less page cache). */
  memoryBytes: number;
  /** The hard memory limit, when one is enforced. */
  memoryLimitBytes?: number;
  /** When it was measured (ms since the epoch). */
  time: number;
}

/** `GET /v1/allocations/:id/stats`: the usage of each running task of an allocation. */
export interface AllocStats {
  allocId: string;
  tasks: Record<string, TaskUsage>;
  /** Sums over the tasks. */
  cpuPercent: number;
  memoryBytes: number;
}

/** `GET /v1/nodes/:id/stats`: the node's own totals and what berth's tasks use of them. */
export interface NodeStats {
  nodeId: string;
  /** CPU cores and memory of the host. */
  cpuCores: number;
  memoryTotalBytes: number;
  memoryAvailableBytes: number;
  /** One-minute load average. */
  load1: number;
  /** Sums over every running task of every allocation on the node. */
  tasks: number;
  cpuPercent: number;
  memoryBytes: number;
  allocs: AllocStats[];
}

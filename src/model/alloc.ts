import type { DriverName, MarkedSuccess, Resources } from './job.ts';
import type { DeploymentHealth } from './deployment.ts';

/** What the server wants of an allocation. */
export type DesiredStatus = 'run' | 'stop';

/** What the agent reports of an allocation. */
export type ClientStatus = 'pending' | 'running' | 'complete' | 'failed' | 'lost';

export type TaskStateName = 'pending' | 'running' | 'dead';

/** One line of a task's history, as `alloc status` shows it. */
export interface TaskEvent {
  time: number;
  type: string;
  message: string;
}

export interface TaskState {
  state: TaskStateName;
  failed: boolean;
  restarts: number;
  startedAt?: number;
  finishedAt?: number;
  exitCode?: number;
  /** The driver that runs it, once resolved on the node. */
  driver?: DriverName;
  /** The task's own network address, when its driver gives it one (a docker container's IP). */
  network?: TaskNetwork;
  events: TaskEvent[];
}

/** The address a driver gave a task, for services with `address_mode: driver` (Nomad's DriverNetwork). */
export interface TaskNetwork {
  /** The task's IP address on its network. */
  ip: string;
  /**
   * True when that address is the one to advertise under `address_mode: auto`: the container is on
   * a network other than the default bridge (whose addresses other hosts cannot reach).
   */
  autoAdvertise: boolean;
}

/** A port given to an allocation on its node. */
export interface AllocatedPort {
  label: string;
  /** The port on the node. */
  value: number;
  /** The port inside the container (docker), equal to `value` for processes. */
  to: number;
}

/** One instance of a group placed on a node. */
export interface Allocation {
  id: string;
  /** `<job>.<group>[<index>]`, stable across replacements. */
  name: string;
  jobId: string;
  jobVersion: number;
  group: string;
  /** The slot in the group, 0..count-1. */
  index: number;
  nodeId: string;
  evalId: string;
  desiredStatus: DesiredStatus;
  desiredDescription?: string;
  clientStatus: ClientStatus;
  clientDescription?: string;
  taskStates: Record<string, TaskState>;
  resources: Resources;
  ports: AllocatedPort[];
  createTime: number;
  modifyTime: number;
  /** The allocation this one replaces (rescheduled, migrated or lost). */
  previousAllocation?: string;
  /** Reschedules so far in this slot's chain, newest last. */
  rescheduleEvents?: RescheduleEvent[];
  /** Set by the drainer: the scheduler should move this allocation. */
  migrate?: boolean;
  /** Hash of the group spec it was placed for: equal hashes allow an in-place update. */
  specHash?: string;
  /** The delayed evaluation that will act on this allocation (reschedule, lost_after, max run). */
  followupEvalId?: string;
  /** The deployment that placed it, and its health there (set by the deployment watcher). */
  deploymentId?: string;
  deploymentHealth?: DeploymentHealth;
  /** Placed as a canary beside the allocation of its slot, until the deployment is promoted. */
  canary?: boolean;
  /** A failed batch allocation an operator marked successful (`job mark-success`): it counts as complete for dependents. */
  markedSuccess?: MarkedSuccess;
}

/** One reschedule of a slot. */
export interface RescheduleEvent {
  time: number;
  prevAllocId: string;
  prevNodeId: string;
  delayMs: number;
}

/** True when an allocation will never run again on its node. */
export function isTerminal(alloc: Pick<Allocation, 'desiredStatus' | 'clientStatus'>): boolean {
  return (
    alloc.desiredStatus === 'stop' ||
    alloc.clientStatus === 'complete' ||
    alloc.clientStatus === 'failed' ||
    alloc.clientStatus === 'lost'
  );
}

/** True when the agent has finished with an allocation (its tasks are gone). */
export function isClientTerminal(alloc: Pick<Allocation, 'clientStatus'>): boolean {
  return alloc.clientStatus === 'complete' || alloc.clientStatus === 'failed' || alloc.clientStatus === 'lost';
}

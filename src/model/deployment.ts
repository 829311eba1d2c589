/**
 * Deployments: how a new job version replaces the old one (Nomad's update block), and the record
 * the deployment watcher keeps while it does.
 */

/** How allocations of a group are replaced by a new version. */
export interface UpdateStrategy {
  /** How many allocations are replaced at a time; 0 replaces all at once with no deployment. */
  maxParallel: number;
  /** What makes a new allocation healthy: its service checks pass, its tasks run, or an operator says so. */
  healthCheck: 'checks' | 'task_states' | 'manual';
  /** How long an allocation must stay healthy before it counts. */
  minHealthyTimeMs: number;
  /** An allocation not healthy this long after it was placed is unhealthy. */
  healthyDeadlineMs: number;
  /** A deployment with no allocation turning healthy for this long fails. */
  progressDeadlineMs: number;
  /** On failure, register the latest stable version again. */
  autoRevert: boolean;
  /** New allocations placed beside the old ones first; the rest wait for a promotion. */
  canary: number;
  /** Promote once every canary is healthy. */
  autoPromote: boolean;
  /** The least time between two batches. */
  staggerMs: number;
}

/** The statuses of a deployment; all but running and paused are final. */
export type DeploymentStatus = 'running' | 'paused' | 'successful' | 'failed' | 'cancelled';

/** Progress of one group in a deployment. */
export interface DeploymentGroupState {
  desired: number;
  desiredCanaries: number;
  /** Allocation ids placed as canaries. */
  canaries: string[];
  promoted: boolean;
  autoRevert: boolean;
  /** Allocations of the new version placed, healthy and unhealthy so far. */
  placed: number;
  healthy: number;
  unhealthy: number;
  /** Epoch ms by which the next allocation must turn healthy, or the deployment fails. */
  progressDeadline: number;
}

/** The rollout of one job version. */
export interface Deployment {
  id: string;
  jobId: string;
  jobVersion: number;
  status: DeploymentStatus;
  statusDescription: string;
  groups: Record<string, DeploymentGroupState>;
  createTime: number;
  modifyTime: number;
}

/** An allocation's health within its deployment, set by the deployment watcher. */
export interface DeploymentHealth {
  healthy: boolean;
  time: number;
  /** Why it is unhealthy. */
  reason?: string;
}

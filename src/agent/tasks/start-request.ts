import type { TaskStartRequest } from '../../drivers/index.ts';
import type { Allocation, DriverName, Job, Task } from '../../model/index.ts';
import { interpolate, taskDirs, taskEnv } from './task-env.ts';

/** What a task's start request is built from. */
export interface StartRequestInput {
  job: Job;
  alloc: Allocation;
  task: Task;
  nodeName: string;
  /** The address other hosts reach the node at (BERTH_ADDR_* in the env). */
  nodeAddress: string;
  /** The driver that runs it: docker maps each host port to the label's `to`, a process listens on the host port. */
  driverName: DriverName;
  taskDir: string;
}

/**
 * The request a task's driver starts it with: its env (task-env.ts), its args with `${...}`
 * interpolated from that env, its ports and resources. Pure; hooks shape it further (alloc-hook.ts).
 */
export function taskStartRequest(i: StartRequestInput): TaskStartRequest {
  const env = taskEnv({ job: i.job, alloc: i.alloc, task: i.task, nodeAddress: i.nodeAddress, driver: i.driverName, dirs: taskDirs(i.taskDir, i.driverName) });
  return {
    allocId: i.alloc.id,
    taskName: i.task.name,
    nodeName: i.nodeName,
    config: i.task.config,
    env,
    args: (i.task.config.args ?? []).map((a) => interpolate(a, env)),
    resources: i.task.resources,
    ports: i.alloc.ports.map((p) => ({ hostPort: p.value, containerPort: i.driverName === 'docker' ? p.to : p.value })),
    taskDir: i.taskDir,
    ...(i.task.logs ? { logs: i.task.logs } : {}),
  };
}

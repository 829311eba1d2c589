import path from 'node:path';
import type { Allocation, DriverName, Job, Task } from '../../model/index.ts';
import { TASK_DIR_MOUNTS } from '../../drivers/index.ts';

/** Where a task sees its directory's `local/` and `secrets/`. */
export interface TaskDirs {
  local: string;
  secrets: string;
}

/** A docker task sees them where the driver mounts them (/local, /secrets); a process on the host. */
export function taskDirs(taskDir: string, driver: DriverName): TaskDirs {
  const seen = (dir: string): string => (driver === 'docker' ? TASK_DIR_MOUNTS.find((m) => m.dir === dir)!.target : path.join(taskDir, dir));
  return { local: seen('local'), secrets: seen('secrets') };
}

/** What `taskEnv` reads. */
export interface TaskEnvInput {
  job: Job;
  alloc: Allocation;
  task: Task;
  nodeAddress: string;
  driver: DriverName;
  dirs?: TaskDirs;
}

/**
 * The environment berth gives a task: its own `env` plus BERTH_* variables that say where it runs.
 * `BERTH_PORT_<label>` is the port the task listens on (inside the container for docker),
 * `BERTH_HOST_PORT_<label>` the port on the node. A process has no container side: it listens on
 * the node's port. With `dirs`, BERTH_TASK_DIR and BERTH_SECRETS_DIR name the task's `local/` and
 * `secrets/`, and BERTH_PAYLOAD_FILE a dispatched job's payload in `local/` (see payload.ts).
 */
export function taskEnv(input: TaskEnvInput): Record<string, string> {
  const { job, alloc, task, nodeAddress, driver, dirs } = input;
  const env: Record<string, string> = {
    BERTH_ALLOC_ID: alloc.id,
    BERTH_ALLOC_NAME: alloc.name,
    BERTH_ALLOC_INDEX: String(alloc.index),
    BERTH_JOB_ID: job.id,
    BERTH_GROUP_NAME: alloc.group,
    BERTH_TASK_NAME: task.name,
    BERTH_NODE_ADDRESS: nodeAddress,
    BERTH_CPU_LIMIT: String(task.resources.cpu),
    BERTH_MEMORY_LIMIT: String(task.resources.memoryMiB),
  };
  if (dirs) {
    env.BERTH_TASK_DIR = dirs.local;
    env.BERTH_SECRETS_DIR = dirs.secrets;
    if (job.payload !== undefined) env.BERTH_PAYLOAD_FILE = path.posix.join(dirs.local, PAYLOAD_FILE);
  }
  for (const p of alloc.ports) {
    env[`BERTH_PORT_${p.label}`] = String(driver === 'docker' ? p.to : p.value);
    env[`BERTH_HOST_PORT_${p.label}`] = String(p.value);
  }
  // The user's env wins, and may itself use ${BERTH_*}.
  for (const [k, v] of Object.entries(task.env)) env[k] = interpolate(v, env);
  return env;
}

/** The payload's file name in the task's `local/`. */
export const PAYLOAD_FILE = 'payload';

/** Replace `${NAME}` with the variable's value; unknown names are left as written. */
export function interpolate(text: string, env: Record<string, string>): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (whole, name: string) => env[name] ?? whole);
}

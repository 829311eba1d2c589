/** A dispatched job's payload, handed to each task as a file in its directory. */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Job } from '../../model/index.ts';
import { PAYLOAD_FILE } from '../tasks/task-env.ts';
import type { AllocHook, HookedAlloc } from '../allocs/alloc-hook.ts';

/**
 * Creates the task directory's `local/` and `secrets/` (a docker task has them mounted at /local
 * and /secrets) and writes the job's payload, if any, to `local/payload`, which the task's env
 * names as BERTH_PAYLOAD_FILE (task-env.ts). Synchronous: the payload is small (16 KiB at most) and
 * must exist before the task starts.
 */
export function prepareTaskDir(job: Job, taskDir: string): void {
  mkdirSync(path.join(taskDir, 'local'), { recursive: true });
  mkdirSync(path.join(taskDir, 'secrets'), { recursive: true, mode: 0o700 });
  if (job.payload === undefined) return;
  writeFileSync(path.join(taskDir, 'local', PAYLOAD_FILE), Buffer.from(job.payload, 'base64'), { mode: 0o600 });
}

/** The hook that prepares each task's directory and payload file before the task's runner is made. */
export function payloadHook(alloc: HookedAlloc): AllocHook {
  return {
    name: 'payload',
    prestart(t) {
      prepareTaskDir(alloc.job, t.taskDir);
    },
  };
}

/** A dispatched job's payload, handed to each task as a file in its directory. */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Job } from '../model/index.ts';

/**
 * Writes the job's payload (if any) to `<taskDir>/local/payload` and names it in the task's env as
 * BERTH_PAYLOAD_FILE. Synchronous: it is small (16 KiB at most) and must exist before the task starts.
 */
export function withPayload(job: Job, taskDir: string, env: Record<string, string>): void {
  if (job.payload === undefined) return;
  const file = path.join(taskDir, 'local', 'payload');
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, Buffer.from(job.payload, 'base64'), { mode: 0o600 });
  env.BERTH_PAYLOAD_FILE = file;
}

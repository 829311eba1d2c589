import { readdirSync, readFileSync } from 'node:fs';
import type { TaskHandle } from '../driver.ts';
import { isRunning, processStartTime } from './proc.ts';

/**
 * The process tasks running on this host, found in /proc by their wrapper (`sh -c WRAPPER
 * berth-task <exit file> <cgroup> <command>...`) and the BERTH_ALLOC_ID and BERTH_TASK_NAME in
 * its environment: what an agent killed between spawning a task and saving its handle can adopt.
 * Settings the command line does not carry (stop signal, log rotation) get their defaults.
 */
export function listProcessTasks(): TaskHandle[] {
  const out: TaskHandle[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let argv: string[];
    let environ: string[];
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (argv[0] !== '/bin/sh' || argv[1] !== '-c' || argv[3] !== 'berth-task') continue;
      environ = readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0');
    } catch {
      continue;
    }
    const env = (name: string): string | undefined => environ.find((e) => e.startsWith(`${name}=`))?.slice(name.length + 1);
    const allocId = env('BERTH_ALLOC_ID');
    const taskName = env('BERTH_TASK_NAME');
    const pid = Number(entry);
    const startTime = processStartTime(pid);
    const exitFile = argv[4];
    if (!allocId || !taskName || !exitFile?.endsWith('.exit') || !isRunning(pid, startTime)) continue;
    const base = exitFile.slice(0, -'.exit'.length);
    const state: TaskHandle['state'] = { startTime, exitFile, stdoutFile: `${base}.stdout`, stderrFile: `${base}.stderr`, status: 'running' };
    // Wrappers of older agents take no cgroup argument: their $2 is already the command.
    if (argv[2]?.includes('shift 2') && argv[5]?.endsWith('/cgroup.procs')) state.cgroupProcs = argv[5];
    out.push({ driver: 'process', allocId, taskName, id: entry, startedAt: Date.now(), state });
  }
  return out;
}

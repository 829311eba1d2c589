/**
 * Shared by test/e2e/server-storm.test.ts, bench/storm.ts and bench/soak.ts: the process tasks
 * a storm or soak leaves on this host (found by a marker in their environment), and how a run's
 * allocations are judged once it has converged.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { Allocation } from '../../src/model/index.ts';

/** A task process of a bench run: its pid and the allocation whose task it is. */
export interface MarkedProcess {
  pid: number;
  allocId: string;
}

/**
 * The live (not zombie) `sleep` processes whose environment holds `STORM_MARK=<mark>`: the task
 * processes of one bench run, whatever agent or wrapper started them.
 */
export function markedProcesses(mark: string): MarkedProcess[] {
  const out: MarkedProcess[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() !== 'sleep') continue;
      if (/\) Z /.test(readFileSync(`/proc/${entry}/stat`, 'utf8'))) continue;
      const env = readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0');
      if (!env.includes(`STORM_MARK=${mark}`)) continue;
      const allocId = env.find((e) => e.startsWith('BERTH_ALLOC_ID='))?.slice('BERTH_ALLOC_ID='.length) ?? '';
      out.push({ pid: Number(entry), allocId });
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return out;
}

/** The numbers a converged storm is judged by. */
export interface Convergence {
  /** Jobs registered that the server no longer has (or has stopped). */
  jobsLost: number;
  /** Allocations beyond `count` running per job, plus running allocations sharing a name. */
  duplicated: number;
  /** Allocations short of `count` running per job. */
  missing: number;
  /** Running allocations of an older job version than the job's. */
  oldVersion: number;
  /** Allocations the server says should stop but that it still sees running or pending. */
  stuck: number;
  /** Task processes of no running allocation. */
  orphanProcesses: number;
  /** Running allocations with no task process, or with more than one. */
  allocsWithoutOneProcess: number;
}

/** What the server holds of one job: its version, whether it is stopped, and its allocations. */
export interface JobView {
  id: string;
  version?: number;
  stop?: boolean;
  allocs: Allocation[];
}

/** Judge the allocations of `jobs` (each wanting `count` running) against the marked processes. */
export function judge(jobs: JobView[], count: number, procs: MarkedProcess[]): Convergence {
  const c: Convergence = { jobsLost: 0, duplicated: 0, missing: 0, oldVersion: 0, stuck: 0, orphanProcesses: 0, allocsWithoutOneProcess: 0 };
  const live = new Set<string>();
  for (const job of jobs) {
    if (job.version === undefined || job.stop) c.jobsLost++;
    const running = job.allocs.filter((a) => a.desiredStatus === 'run' && a.clientStatus === 'running');
    const names = new Set(running.map((a) => a.name));
    c.duplicated += Math.max(0, running.length - count) + (running.length - names.size);
    c.missing += Math.max(0, count - running.length);
    c.oldVersion += running.filter((a) => a.jobVersion !== job.version).length;
    c.stuck += job.allocs.filter((a) => a.desiredStatus !== 'run' && (a.clientStatus === 'running' || a.clientStatus === 'pending')).length;
    for (const a of running) live.add(a.id);
  }
  const perAlloc = new Map<string, number>();
  for (const p of procs) perAlloc.set(p.allocId, (perAlloc.get(p.allocId) ?? 0) + 1);
  c.orphanProcesses = procs.filter((p) => !live.has(p.allocId)).length;
  c.allocsWithoutOneProcess = [...live].filter((id) => perAlloc.get(id) !== 1).length;
  return c;
}

/** Whether nothing is wrong. */
export function clean(c: Convergence): boolean {
  return Object.values(c).every((v) => v === 0);
}

/** Resident set size of `pid` in bytes (0 when gone). */
export function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Open file descriptors of `pid` (0 when gone). */
export function openFds(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return 0;
  }
}

/** The node process behind a `bin/berth.js` child (it re-execs on Node 24), or the child itself. */
export function berthPid(childPid: number): number {
  try {
    const kids = readFileSync(`/proc/${childPid}/task/${childPid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    for (const k of kids) {
      if (readFileSync(`/proc/${k}/cmdline`, 'utf8').includes('bin/berth.js')) return Number(k);
    }
  } catch {
    // No children file: the child is the process.
  }
  return childPid;
}

/** What a storm job differs in between the CI test and the benchmark. */
export interface StormJobOptions {
  mark: string;
  count: number;
  killTimeout: string;
  /** Extra fields of the update block (deadlines). */
  update?: Record<string, string | number>;
}

/**
 * Storm job `j` at `version`: `count` sleeping processes, each marked with `STORM_MARK` so
 * `markedProcesses` finds them, rolled two at a time; the version is in the env, so each new one
 * is a destructive update.
 */
export function stormJobSpec(j: number, version: number, o: StormJobOptions): object {
  const task = { name: 't', driver: 'process', config: { command: '/bin/sleep', args: ['3600'] }, env: { STORM_MARK: o.mark, V: String(version) }, resources: { cpu: '10m', memory: '4Mi' }, kill_timeout: o.killTimeout };
  return {
    id: `storm-${j}`,
    type: 'service',
    update: { max_parallel: 2, health_check: 'task_states', min_healthy_time: '0s', ...o.update },
    groups: [{ name: 'g', count: o.count, tasks: [task] }],
  };
}

/** `fn`, tried again every 200 ms while the server is away (a restart), up to `timeoutMs` (60 s). */
export async function whileRestarting<T>(fn: () => Promise<T>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

import { closeSync, openSync } from 'node:fs';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { constants } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DriverInfo, TaskUsage } from '../../model/index.ts';
import { processUsage } from './proc-stats.ts';
import { processExec } from './process-exec.ts';
import { listProcessTasks } from './process-list.ts';
import type { ExecRequest, ExecSession, ExitResult, LogChunk, LogOptions, TaskDriver, TaskHandle, TaskStartRequest } from '../driver.ts';
import { fileSize, readLogFiles, type LogFiles } from './log-files.ts';
import { isRunning, resolveCommand } from './proc.ts';
import { Spawner, type Spawned } from './spawner.ts';
import { detectMemoryCgroup, oomKilled, removeCgroup, type CgroupRoot } from './cgroup.ts';
import { LogRotator } from './log-rotate.ts';
import { setUpTask, signalByName } from './task-setup.ts';
import { hostSignal, unknownSignal } from '../signals.ts';

/** Options of `ProcessDriver`. */
export interface ProcessDriverOptions {
  /** The cgroup file system root for memory limits; false: no limits. Default: `/sys/fs/cgroup` when usable. */
  cgroupRoot?: string | false;
  /** How often log files are checked for rotation. Default 1000 ms. */
  rotateEveryMs?: number;
}

/**
 * Runs the task under `/bin/sh` so its exit status outlives the agent: the shell traps the stop
 * signals (a trap, unlike an ignore, is reset in the child, so the command still gets them), runs
 * the command in the foreground (a trapped signal waits for the foreground command to finish),
 * then writes "<its pid> <status>" to the exit file. $1 is the exit file, the rest the command.
 */
const WRAPPER =
  'f=$1; c=$2; shift 2; [ -z "$c" ] || echo $$ > "$c" || echo "berth: cannot join memory cgroup $c" >&2; ' +
  'trap : TERM INT HUP QUIT USR1 USR2; "$@"; s=$?; printf \'%s %s\\n\' "$$" "$s" > "$f"; exit "$s"';

/** How often a recovered task, which is not our child, is checked for having exited. */
const POLL_MS = 250;

/** What the driver knows of a process it spawned itself (not of recovered ones). */
interface Child {
  process: Spawned;
  startTime: number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  waiters: number;
}

/** A handle's pid and driver-private state, as `start` writes them. */
interface ProcessState {
  pid: number;
  startTime: number;
  exitFile: string;
  stdoutFile: string;
  stderrFile: string;
  /** The signal that asks the task to stop. */
  stopSignal: NodeJS.Signals;
  /** The task's memory cgroup (its cgroup.procs file), when it has one. */
  cgroupProcs?: string;
  logMaxBytes: number;
  logMaxFiles: number;
  /** The sizes of the log files when this instance started (absent in handles saved before there were). */
  logStartStdout?: number;
  logStartStderr?: number;
}

/**
 * Runs tasks as plain processes on the host. Each task gets its own session and process group
 * and writes its output straight to `<taskDir>/<task>.stdout` and `.stderr`, so it keeps running
 * and logging when the agent stops; its exit status goes to `<taskDir>/<task>.exit`, so a restarted
 * agent still learns how it ended. Memory is limited by a cgroup where the host allows (root, a
 * memory controller); CPU is not enforced; ports are the host's. Log files rotate by size.
 */
export class ProcessDriver implements TaskDriver {
  readonly name = 'process' as const;
  readonly #children = new Map<number, Child>();
  /** The latest run started on each task's log files (by its stdout file): where its output begins. */
  readonly #runStarts = new Map<string, LogFiles<number> & { pid: number }>();
  readonly #cgroup: CgroupRoot | undefined;
  readonly #rotator: LogRotator;
  /** Spawns off the main thread (see spawner.ts). */
  readonly #spawner = new Spawner();

  constructor(options: ProcessDriverOptions = {}) {
    this.#cgroup = options.cgroupRoot === false ? undefined : detectMemoryCgroup(options.cgroupRoot);
    this.#rotator = new LogRotator(options.rotateEveryMs);
  }

  /** Always available: it needs only `/bin/sh`. The version is Node's. */
  async fingerprint(): Promise<DriverInfo> {
    return { detected: true, healthy: true, version: process.versions.node ?? 'builtin' };
  }

  /** Spawns the task; resolves once it runs. A missing command or directory rejects. */
  async start(request: TaskStartRequest): Promise<TaskHandle> {
    const fail = (detail: string): Error => new Error(`Cannot start task "${request.taskName}": ${detail}`);
    const { cwd, env, path, setup, state } = await this.#prepare(request, fail);
    // An exit file of an earlier run of this task would answer for this one.
    await rm(state.exitFile, { force: true });
    // Where this instance's output begins in the files earlier runs wrote to (`logs({instance})`).
    const logStart = { logStartStdout: await fileSize(state.stdoutFile), logStartStderr: await fileSize(state.stderrFile) };
    const runStart = { pid: 0, stdout: logStart.logStartStdout, stderr: logStart.logStartStderr };
    this.#runStarts.set(state.stdoutFile, runStart);
    const out = openSync(state.stdoutFile, 'a');
    const err = openSync(state.stderrFile, 'a');
    let child: Spawned;
    try {
      // In its own session and process group (the spawner detaches it): the agent's terminal
      // signals do not reach it, and stop signals the whole group. Its start time is read before
      // it can exit and be reaped.
      child = await this.#spawner.spawn({
        file: '/bin/sh',
        args: ['-c', WRAPPER, 'berth-task', state.exitFile, setup.cgroupProcs ?? '', path, ...request.args],
        cwd,
        env,
        ...(setup.user ? { uid: setup.user.uid, gid: setup.user.gid } : {}),
        stdout: out,
        stderr: err,
      });
    } catch (error) {
      throw fail(`spawning it failed: ${(error as Error).message}`);
    } finally {
      closeSync(out);
      closeSync(err);
    }
    const { pid, startTime } = child;
    runStart.pid = pid;
    const entry: Child = {
      process: child,
      startTime,
      exited: child.exited.then((exit) => {
        // Later calls find the status on disk; the entry would only keep the process object alive.
        if (this.#children.get(pid) === entry) this.#children.delete(pid);
        return exit;
      }),
      waiters: 0,
    };
    this.#children.set(pid, entry);
    this.#watchLogs(request.allocId, request.taskName, stateOf({ id: String(pid), state } as unknown as TaskHandle));
    return {
      driver: 'process',
      allocId: request.allocId,
      taskName: request.taskName,
      id: String(pid),
      startedAt: Date.now(),
      state: { startTime, ...state, ...logStart },
    };
  }

  /** Check the request and set the task up: its directory, user and cgroup, environment, command and log files. */
  async #prepare(request: TaskStartRequest, fail: (detail: string) => Error) {
    const command = request.config.command;
    if (!command) throw fail('the process driver needs config.command');
    const cwd = request.config.workdir ?? request.taskDir;
    await mkdir(request.taskDir, { recursive: true });
    if (!(await isDirectory(cwd))) throw fail(`working directory "${cwd}" does not exist`);
    const prepared = await setUpTask(request, this.#cgroup);
    if (!prepared.ok) throw fail(prepared.reason);
    const { setup } = prepared;
    const env = { ...baseEnv(), ...setup.env, ...request.env };
    const resolved = await resolveCommand(command, env.PATH ?? '', cwd);
    if (!resolved.ok) throw fail(resolved.reason);
    const logs = request.logs ?? { maxFiles: 10, maxFileSizeMiB: 10 };
    const base = join(request.taskDir, request.taskName.replace(/[/\\]/g, '_'));
    const state = {
      exitFile: `${base}.exit`,
      stdoutFile: `${base}.stdout`,
      stderrFile: `${base}.stderr`,
      stopSignal: setup.stopSignal,
      logMaxBytes: Math.round(logs.maxFileSizeMiB * 1024 * 1024),
      logMaxFiles: logs.maxFiles,
      ...(setup.cgroupProcs ? { cgroupProcs: setup.cgroupProcs } : {}),
    };
    return { cwd, env, path: resolved.path, setup, state };
  }

  /** True while the process runs, and after it ended as long as its exit status is on disk. */
  async recover(handle: TaskHandle): Promise<boolean> {
    const state = stateOf(handle);
    if (isRunning(state.pid, state.startTime)) {
      this.#watchLogs(handle.allocId, handle.taskName, state);
      return true;
    }
    return (await readExitFile(state)) !== null;
  }

  /** The task's exit status; `oomKilled` when its memory cgroup saw the OOM killer. */
  async wait(handle: TaskHandle): Promise<ExitResult> {
    const state = stateOf(handle);
    const result = await this.#waitExit(handle, state);
    if (state.cgroupProcs && result.exitCode === 137 && (await oomKilled(state.cgroupProcs))) result.oomKilled = true;
    return result;
  }

  /** From the child's exit when the driver spawned it, else by polling. */
  async #waitExit(handle: TaskHandle, state: ProcessState): Promise<ExitResult> {
    const child = this.#child(state);
    if (child) {
      // Keep the event loop alive while someone waits, though the task itself must not.
      child.waiters++;
      child.process.ref();
      try {
        const { signal } = await child.exited;
        // The spawner's thread died before the exit: watch the process as if recovered.
        while (isRunning(state.pid, state.startTime)) await sleep(POLL_MS);
        return (await readExitFile(state)) ?? killedBy(signal);
      } finally {
        if (--child.waiters === 0) child.process.unref();
      }
    }
    while (isRunning(state.pid, state.startTime)) await sleep(POLL_MS);
    return (
      (await readExitFile(state)) ?? {
        exitCode: -1,
        oomKilled: false,
        error: `Cannot tell how task "${handle.taskName}" ended: process ${state.pid} is gone and left no exit status`,
      }
    );
  }

  /** The stop signal (SIGTERM unless the task names another) to its process group, SIGKILL after `timeoutMs`. */
  async stop(handle: TaskHandle, timeoutMs: number): Promise<void> {
    const state = stateOf(handle);
    if (!isRunning(state.pid, state.startTime)) return;
    signalGroup(state.pid, state.stopSignal);
    if (await this.#gone(state, timeoutMs)) return;
    await this.#kill(state);
  }

  /** `signal` to the task's process group (the wrapper shell traps it; the command gets it). */
  async signal(handle: TaskHandle, signal: string): Promise<void> {
    const state = stateOf(handle);
    const which = hostSignal(signal);
    if (!which) throw unknownSignal(handle.taskName, signal);
    if (!isRunning(state.pid, state.startTime)) throw new Error(`Cannot signal task "${handle.taskName}": process ${state.pid} is not running`);
    signalGroup(state.pid, which);
  }

  /** Kills the task if it still runs and forgets its exit status; the log files stay with the task dir. */
  async destroy(handle: TaskHandle): Promise<void> {
    const state = stateOf(handle);
    if (isRunning(state.pid, state.startTime)) await this.#kill(state);
    this.#rotator.unwatch(`${handle.allocId}/${handle.taskName}`);
    if (this.#runStarts.get(state.stdoutFile)?.pid === state.pid) this.#runStarts.delete(state.stdoutFile);
    await rm(state.exitFile, { force: true });
    if (state.cgroupProcs) await removeCgroup(state.cgroupProcs);
  }

  /** The task's log files; see `readLogFiles` for how tail and follow behave. */
  logs(handle: TaskHandle, options: LogOptions = {}): AsyncIterable<LogChunk> {
    const state = stateOf(handle);
    const from = this.#from(state, options);
    // A later run of the task on the same files bounds this one's output (a follower of this run
    // must not read the next run's first lines, which a follower of that run reads).
    const until = (): LogFiles<number> | undefined => {
      const latest = this.#runStarts.get(state.stdoutFile);
      return latest && latest.pid !== state.pid ? latest : undefined;
    };
    return readLogFiles({ stdout: state.stdoutFile, stderr: state.stderrFile }, options, { running: () => isRunning(state.pid, state.startTime), from, until });
  }

  /** CPU and memory of the task's process group (memory from its cgroup when it has one). */
  async stats(handle: TaskHandle): Promise<TaskUsage> {
    const state = stateOf(handle);
    if (!isRunning(state.pid, state.startTime)) throw new Error(`Cannot read the usage of task "${handle.taskName}": process ${state.pid} is not running`);
    return processUsage(state.pid, state.cgroupProcs);
  }

  /** Runs a command in the task's working dir, with its environment, as its user. */
  async exec(handle: TaskHandle, request: ExecRequest): Promise<ExecSession> {
    const state = stateOf(handle);
    if (!isRunning(state.pid, state.startTime)) throw new Error(`Cannot run a command in task "${handle.taskName}": process ${state.pid} is not running`);
    return processExec(state.pid, request);
  }

  /**
   * Every process task running on this host, found by its wrapper and environment (see
   * `listProcessTasks`); processes carry no node label, so the agent adopts only those of the
   * allocations it runs.
   */
  async list(_nodeName: string): Promise<TaskHandle[]> {
    return listProcessTasks();
  }

  /** Rotate the task's log files by size while it runs. */
  #watchLogs(allocId: string, taskName: string, state: ProcessState): void {
    const files = [state.stdoutFile, state.stderrFile].map((path) => ({ path, maxBytes: state.logMaxBytes, maxFiles: state.logMaxFiles }));
    this.#rotator.watch(`${allocId}/${taskName}`, files);
  }

  /** Where a read starts in the log files: this run's start (`instance`), the offset at `since`, whichever is later. */
  #from(state: ProcessState, options: LogOptions): LogFiles<number> | undefined {
    if (!options.instance && options.since === undefined) return undefined;
    const at = (stream: 'stdout' | 'stderr', runStart: number | undefined): number => {
      const run = options.instance ? (runStart ?? 0) : 0;
      const since = options.since === undefined ? 0 : (this.#rotator.offsetAt(state[`${stream}File`], options.since) ?? 0);
      return Math.max(run, since);
    };
    return { stdout: at('stdout', state.logStartStdout), stderr: at('stderr', state.logStartStderr) };
  }

  /** The child behind a handle, if this driver spawned it; a handle with another start time is not it. */
  #child(state: ProcessState): Child | undefined {
    const child = this.#children.get(state.pid);
    return child?.startTime === state.startTime ? child : undefined;
  }

  /** SIGKILL to the group, with the exit status recorded first since the wrapper dies too. */
  async #kill(state: ProcessState): Promise<void> {
    // 'wx': a status the wrapper wrote itself is the truer one.
    await writeFile(state.exitFile, `${state.pid} 137 SIGKILL\n`, { flag: 'wx' }).catch(() => {});
    signalGroup(state.pid, 'SIGKILL');
    await this.#gone(state, 5000);
  }

  /** Whether the process is gone within `timeoutMs`. */
  async #gone(state: ProcessState, timeoutMs: number): Promise<boolean> {
    const child = this.#child(state);
    if (child) {
      const timer = new AbortController();
      const exited = child.exited.then(() => true);
      const late = sleep(timeoutMs, false, { signal: timer.signal }).catch(() => false);
      const gone = await Promise.race([exited, late]);
      timer.abort();
      return gone;
    }
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!isRunning(state.pid, state.startTime)) return true;
      if (Date.now() >= deadline) return false;
      await sleep(Math.min(100, Math.max(1, deadline - Date.now())));
    }
  }
}

/** The environment every task starts from; the request's env goes on top. */
function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {
    PATH: process.env.PATH || '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: process.env.HOME || '/',
  };
  for (const key of ['USER', 'LOGNAME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR']) {
    const value = process.env[key];
    if (value) env[key] = value;
  }
  return env;
}

function stateOf(handle: TaskHandle): ProcessState {
  const s = handle.state;
  // The id is the pid: the one place it is kept, so a handle cannot disagree with itself.
  const pid = Number(handle.id);
  const text = (key: string): string => {
    const value = s[key];
    if (typeof value !== 'string') throw new Error(`Cannot use the handle of task "${handle.taskName}": state.${key} is missing`);
    return value;
  };
  // Handles from before these fields existed get the defaults.
  const out: ProcessState = {
    pid,
    startTime: Number(s.startTime ?? 0),
    exitFile: text('exitFile'),
    stdoutFile: text('stdoutFile'),
    stderrFile: text('stderrFile'),
    stopSignal: signalByName(typeof s.stopSignal === 'string' ? s.stopSignal : undefined) ?? 'SIGTERM',
    logMaxBytes: Number(s.logMaxBytes ?? 10 * 1024 * 1024),
    logMaxFiles: Number(s.logMaxFiles ?? 10),
  };
  if (typeof s.cgroupProcs === 'string') out.cgroupProcs = s.cgroupProcs;
  if (typeof s.logStartStdout === 'number') out.logStartStdout = s.logStartStdout;
  if (typeof s.logStartStderr === 'number') out.logStartStderr = s.logStartStderr;
  return out;
}

/** The status the wrapper (or `#kill`) recorded for this very process, or null. */
async function readExitFile(state: ProcessState): Promise<ExitResult | null> {
  let text: string;
  try {
    text = await readFile(state.exitFile, 'utf8');
  } catch {
    return null;
  }
  const [pid, code, signal] = text.trim().split(' ');
  if (Number(pid) !== state.pid || code === undefined || !/^\d+$/.test(code)) return null;
  const result: ExitResult = { exitCode: Number(code), oomKilled: false };
  if (signal) result.signal = signal;
  return result;
}

/** The result for a wrapper that died by a signal before it could record anything. */
function killedBy(signal: NodeJS.Signals | null): ExitResult {
  if (signal === null) {
    return { exitCode: -1, oomKilled: false, error: 'Cannot tell how the task ended: it left no exit status' };
  }
  return { exitCode: 128 + (constants.signals[signal] ?? 0), signal, oomKilled: false };
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/**
 * The agent's side of service checks: one CheckRunner per check of an allocation's services,
 * probing the node address and host port the catalog hands out, reporting transitions to the
 * server, and restarting tasks for `check_restart`. The server registers the instances (from the
 * allocation's running status); this only runs their checks.
 */
import { execFile } from 'node:child_process';
import type { DriverName } from '../../model/index.ts';
import type { TaskDriver } from '../../drivers/index.ts';
import type { Clock, Logger } from '../../lib/index.ts';
import type { ServerPool } from '../../api/index.ts';
import type { AllocHook, HookedAlloc } from '../allocs/alloc-hook.ts';
import { CheckRunner, MAX_OUTPUT, allocServices, checkIds, hostPort, instanceId, type ProbeTarget } from '../../discovery/checks/index.ts';

/** What the checks need of an allocation runner. */
export type CheckedAlloc = HookedAlloc;

/** What the checks need of the agent. */
export interface ServiceCheckDeps {
  /** The servers checks report to (the next one when one does not answer); without them no check runs. */
  servers?: ServerPool;
  nodeAddress: string;
  drivers: ReadonlyMap<DriverName, TaskDriver>;
  clock: Clock;
  logger: Logger;
}

/** The running checks of one allocation. */
export interface ServiceChecks {
  stop(): void;
  /** The runners by what they check (id, task, port, spec): a new job version keeps those it did not change. */
  readonly runners: Map<string, CheckRunner>;
  /** The tasks each runner's check is about, by the same key. */
  readonly tasks: Map<string, string[]>;
}

/**
 * Start the checks of an allocation's services; undefined when it has none to run. With `previous`
 * (the allocation was updated in place to a new job version), a check whose id, task, port and
 * spec are unchanged keeps its runner, so that its status does not start over; the others stop.
 */
export function startServiceChecks(runner: CheckedAlloc, deps: ServiceCheckDeps, previous?: ServiceChecks): ServiceChecks | undefined {
  const servers = deps.servers;
  if (!servers) return undefined;
  const runners = new Map<string, CheckRunner>();
  const taskLists = new Map<string, string[]>();
  for (const svc of allocServices(runner.job, runner.alloc.group)) {
    const id = instanceId(runner.alloc.id, svc);
    const ids = checkIds(id, svc.spec.checks.length);
    svc.spec.checks.forEach((spec, i) => {
      if (spec.type === 'ttl') return;
      const tasks = svc.task !== undefined ? [svc.task] : runner.taskNames();
      const port = hostPort(runner.alloc, spec.portLabel ?? svc.spec.portLabel);
      const key = JSON.stringify([ids[i], tasks, port, spec]);
      const kept = previous?.runners.get(key);
      if (kept !== undefined) {
        previous!.runners.delete(key);
        runners.set(key, kept);
        taskLists.set(key, tasks);
        return;
      }
      const target: ProbeTarget = {
        host: deps.nodeAddress,
        port,
        exec: (command, args, timeoutMs) => execIn(runner, deps, tasks[0], command, args, timeoutMs),
      };
      const check = new CheckRunner({
        id: ids[i],
        spec,
        target,
        report: (checkId, status, output) => report(servers, checkId, status, output),
        onRestart: (reason) => restartTasks(runner, deps, tasks, reason),
        clock: deps.clock,
      });
      check.start();
      runners.set(key, check);
      taskLists.set(key, tasks);
    });
  }
  // What the new version did not keep stops; the previous set is used up.
  previous?.stop();
  previous?.runners.clear();
  if (runners.size === 0) return undefined;
  return { runners, tasks: taskLists, stop: () => runners.forEach((r) => r.stop()) };
}

async function report(servers: ServerPool, checkId: string, status: string, output: string): Promise<void> {
  const res = await servers.fetch(`/v1/agent/check/update/${encodeURIComponent(checkId)}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ Status: status, Output: output }),
    timeoutMs: 10_000,
  });
  await res.arrayBuffer();
  if (!res.ok) throw new Error(`Cannot report check "${checkId}": the server answered ${res.status}`);
}

/**
 * Run a script check inside the task (docker exec, or the task's cwd and env for a process) when
 * the driver can, else as a plain process on the host.
 */
async function execIn(runner: CheckedAlloc, deps: ServiceCheckDeps, task: string | undefined, command: string, args: string[], timeoutMs: number): Promise<{ exitCode: number; output: string }> {
  const handle = task === undefined ? undefined : runner.handle(task);
  const driver = handle ? deps.drivers.get(handle.driver) : undefined;
  if (handle && driver?.exec) {
    const session = await driver.exec(handle, { command: [command, ...args], tty: false });
    session.stdin.end();
    let output = '';
    const collect = (async () => {
      for await (const chunk of session.output) if (output.length < MAX_OUTPUT) output += chunk.data.toString('utf8');
    })();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<number>((resolve) => {
      timer = setTimeout(() => {
        session.kill();
        resolve(-1);
      }, timeoutMs);
    });
    const exitCode = await Promise.race([session.exit, timeout]);
    clearTimeout(timer);
    await Promise.race([collect, new Promise((r) => setTimeout(r, 100))]);
    return exitCode === -1 ? { exitCode: 2, output: `timed out after ${timeoutMs} ms` } : { exitCode, output };
  }
  return new Promise((resolve) => {
    execFile(command, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 2) : 0;
      resolve({ exitCode: code, output: `${stdout}${stderr}` || (err?.message ?? '') });
    });
  });
}

/** check_restart: stop the tasks; their restart policy starts them again. */
function restartTasks(runner: CheckedAlloc, deps: ServiceCheckDeps, tasks: string[], reason: string): void {
  for (const task of tasks) {
    const handle = runner.handle(task);
    const driver = handle && deps.drivers.get(handle.driver);
    if (!handle || !driver) continue;
    deps.logger.warn({ allocId: runner.alloc.id, task, reason }, 'restarting task for check_restart');
    const killTimeout = runner.job.groups.find((g) => g.name === runner.alloc.group)?.tasks.find((t) => t.name === task)?.killTimeoutMs ?? 5000;
    driver.stop(handle, killTimeout).catch((err: unknown) => deps.logger.warn({ err, task }, 'check_restart could not stop the task'));
  }
}

/**
 * The hook that runs an allocation's service checks: from when its tasks began, following each
 * new job version it is updated to in place, until it stops.
 */
export function serviceChecksHook(alloc: HookedAlloc, deps: ServiceCheckDeps): AllocHook {
  let checks: ServiceChecks | undefined;
  /** The tasks seen running: a fresh start of one of them is a restart. */
  const started = new Set<string>();
  return {
    name: 'service checks',
    poststart() {
      checks = startServiceChecks(alloc, deps);
    },
    update() {
      checks = startServiceChecks(alloc, deps, checks);
    },
    stop() {
      checks?.stop();
    },
    // A task started again (restart policy, `berth alloc restart`, `compose restart`): the server
    // registers its instance afresh, checks critical, so each check of it reports its level again.
    taskStarted(taskName, _handle, fresh) {
      const again = started.has(taskName);
      started.add(taskName);
      if (!fresh || !again || !checks) return;
      for (const [key, runner] of checks.runners) if (checks.tasks.get(key)?.includes(taskName)) runner.taskRestarted();
    },
    checks() {
      return [...(checks?.runners.values() ?? [])].map((r) => ({ id: r.id, status: r.status }));
    },
  };
}

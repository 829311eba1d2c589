import { chown } from 'node:fs/promises';
import type { TaskStartRequest } from '../driver.ts';
import { hostSignal } from '../signals.ts';
import { makeMemoryCgroup, type CgroupRoot } from './cgroup.ts';
import { resolveUser, type TaskUser } from './users.ts';

/** What a process task runs with besides its command: who, how it is stopped, its memory cgroup. */
export interface TaskSetup {
  user?: TaskUser;
  stopSignal: NodeJS.Signals;
  cgroupProcs?: string;
  /** Extra environment for the user (HOME, USER). */
  env: Record<string, string>;
}

/** A signal by name (`SIGINT`, `INT`) or number; undefined when the host has none such. */
export function signalByName(name: string | undefined): NodeJS.Signals | undefined {
  return name === undefined ? 'SIGTERM' : hostSignal(name);
}

/**
 * Resolves the task's user (only an agent running as root can switch users; asking for its own
 * user is fine either way), its stop signal, and makes its memory cgroup where the host allows.
 */
export async function setUpTask(request: TaskStartRequest, cgroup: CgroupRoot | undefined): Promise<{ ok: true; setup: TaskSetup } | { ok: false; reason: string }> {
  const stopSignal = signalByName(request.config.stopSignal);
  if (!stopSignal) return { ok: false, reason: `stop_signal "${request.config.stopSignal}" is not a signal of this host` };
  const setup: TaskSetup = { stopSignal, env: {} };
  if (request.config.user) {
    const resolved = await resolveUser(request.config.user);
    if (!resolved.ok) return resolved;
    const { user } = resolved;
    const self = process.getuid?.();
    if (self !== 0 && user.uid !== self) return { ok: false, reason: `running as user "${request.config.user}" needs the agent to run as root (it runs as uid ${self})` };
    setup.user = user;
    if (user.home) setup.env.HOME = user.home;
    if (user.name) setup.env.USER = setup.env.LOGNAME = user.name;
    // The task's own directory is its scratch space: it must be able to write there.
    if (self === 0) await chown(request.taskDir, user.uid, user.gid);
  }
  const limitMiB = request.resources.memoryMaxMiB ?? request.resources.memoryMiB;
  if (cgroup && limitMiB > 0) {
    const name = `${request.nodeName}-${request.allocId}-${request.taskName}`.replace(/[^a-zA-Z0-9_.-]/g, '_');
    try {
      setup.cgroupProcs = await makeMemoryCgroup(cgroup, name, Math.round(limitMiB * 1024 * 1024));
    } catch {
      // A host that lists the controller but refuses us a cgroup: the task runs unlimited, as
      // on hosts without cgroups.
    }
  }
  return { ok: true, setup };
}

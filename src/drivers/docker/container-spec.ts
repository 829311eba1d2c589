import path from 'node:path';
import type Docker from 'dockerode';
import type { TaskStartRequest } from '../driver.ts';

/** Labels every berth container carries, so a node's containers can be found again. */
export const LABEL_ALLOC = 'berth.alloc';
export const LABEL_TASK = 'berth.task';
export const LABEL_NODE = 'berth.node';

/**
 * The container name of a task: `berth-<node>-<task>-<alloc>`, unique per node so that several
 * agents can share one dockerd. Characters Docker refuses in names become `_`.
 */
export function containerName(nodeName: string, taskName: string, allocId: string): string {
  return `berth-${nodeName}-${taskName}-${allocId}`.replace(/[^a-zA-Z0-9_.-]/g, '_');
}

/**
 * The task directory's subdirectories a container sees, and where (Nomad's layout): `local/` holds
 * the dispatch payload and rendered templates, `secrets/` what should not sit in the image.
 * Bind-mounted read-write from the agent's task directory; the driver creates them before the container.
 */
export const TASK_DIR_MOUNTS: readonly { dir: string; target: string }[] = [
  { dir: 'local', target: '/local' },
  { dir: 'secrets', target: '/secrets' },
];

/** Log rotation when the task names none: 10 files of 10 MiB. */
export const DEFAULT_LOGS = { maxFiles: 10, maxFileSizeMiB: 10 };

/**
 * The Engine API create options for a task.
 * - `command` set: it is the program, run without the image's entrypoint (or with `entrypoint`
 *   when given), as `[command, ...args]`.
 * - no `command`: the image's entrypoint (or `entrypoint`) runs; non-empty `args` replace the image's CMD.
 * Ports are published on all host addresses, TCP only; in host network mode there is nothing to
 * publish. The task directory's `local/` and `secrets/` are mounted at /local and /secrets
 * (TASK_DIR_MOUNTS) unless a volume takes that target. CPU becomes `NanoCpus`; memory a hard
 * limit (`memory_max` when set, with `memory` as the reservation). Output goes to Docker's
 * json-file log, rotated by size.
 */
export function containerCreateOptions(request: TaskStartRequest, image: string): Docker.ContainerCreateOptions {
  const { config, args } = request;
  const hostNetwork = config.networkMode === 'host';
  const exposedPorts: Record<string, object> = {};
  const portBindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const { hostPort, containerPort } of hostNetwork ? [] : request.ports) {
    const key = `${containerPort}/tcp`;
    exposedPorts[key] = {};
    (portBindings[key] ??= []).push({ HostIp: '0.0.0.0', HostPort: String(hostPort) });
  }
  const logs = request.logs ?? DEFAULT_LOGS;
  const hostConfig: Docker.HostConfig = {
    PortBindings: portBindings,
    // The agent restarts tasks by its restart policy; Docker must not do it behind its back.
    RestartPolicy: { Name: 'no' },
    LogConfig: { Type: 'json-file', Config: { 'max-size': `${Math.max(1, Math.round(logs.maxFileSizeMiB * 1024))}k`, 'max-file': String(logs.maxFiles) } },
  };
  const { memoryMiB, memoryMaxMiB, cpu } = request.resources;
  if (memoryMaxMiB !== undefined && memoryMaxMiB > memoryMiB) {
    hostConfig.Memory = mib(memoryMaxMiB);
    if (memoryMiB > 0) hostConfig.MemoryReservation = mib(memoryMiB);
  } else if (memoryMiB > 0) hostConfig.Memory = mib(memoryMiB);
  if (cpu > 0) hostConfig.NanoCpus = Math.round(cpu * 1e9);
  if (config.networkMode) hostConfig.NetworkMode = config.networkMode;
  if (config.extraHosts?.length) hostConfig.ExtraHosts = config.extraHosts;
  if (config.dnsServers?.length) hostConfig.Dns = config.dnsServers;
  if (config.dnsSearch?.length) hostConfig.DnsSearch = config.dnsSearch;
  if (config.tmpfs?.length) hostConfig.Tmpfs = Object.fromEntries(config.tmpfs.map((t) => [t.split(':')[0], t.split(':').slice(1).join(':')]));
  if (config.privileged) hostConfig.Privileged = true;
  if (config.init) hostConfig.Init = true;
  if (config.capAdd?.length) hostConfig.CapAdd = config.capAdd;
  if (config.capDrop?.length) hostConfig.CapDrop = config.capDrop;
  if (config.devices?.length) hostConfig.Devices = config.devices.map(deviceMapping);
  // The task directory first, so a volume the user names at /local replaces it rather than clash.
  const mounts: Docker.MountSettings[] = TASK_DIR_MOUNTS.filter((m) => !config.volumes?.some((v) => v.split(':')[1] === m.target)).map((m) => ({
    Type: 'bind',
    Source: path.join(request.taskDir, m.dir),
    Target: m.target,
    ReadOnly: false,
  }));
  hostConfig.Mounts = [...mounts, ...(config.volumes ?? []).map((v) => mount(v, request.taskDir))];
  const options: Docker.ContainerCreateOptions = {
    name: containerName(request.nodeName, request.taskName, request.allocId),
    Image: image,
    Env: Object.entries(request.env).map(([key, value]) => `${key}=${value}`),
    // berth's labels last: a task cannot pass itself off as another allocation's.
    Labels: { ...config.labels, [LABEL_ALLOC]: request.allocId, [LABEL_TASK]: request.taskName, [LABEL_NODE]: request.nodeName },
    ExposedPorts: exposedPorts,
    HostConfig: hostConfig,
  };
  if (config.command) {
    // An empty (not absent) entrypoint clears the image's, so `command` is what runs.
    options.Entrypoint = config.entrypoint ?? [];
    options.Cmd = [config.command, ...args];
  } else {
    if (config.entrypoint) options.Entrypoint = config.entrypoint;
    if (args.length > 0) options.Cmd = args;
  }
  if (config.workdir) options.WorkingDir = config.workdir;
  if (config.user) options.User = config.user;
  if (config.hostname && !hostNetwork) options.Hostname = config.hostname;
  if (config.stopSignal) options.StopSignal = config.stopSignal;
  return options;
}

function mib(n: number): number {
  return Math.round(n * 1024 * 1024);
}

/** `/dev/x[:/dev/y[:perms]]` as the Engine API's device mapping. */
function deviceMapping(spec: string): { PathOnHost: string; PathInContainer: string; CgroupPermissions: string } {
  const [host, inside, perms] = spec.split(':');
  return { PathOnHost: host, PathInContainer: inside || host, CgroupPermissions: perms || 'rwm' };
}

/** `source:target[:ro]`: a source starting with `/` is a host path (bind), any other a named volume. */
function mount(spec: string, taskDir: string): Docker.MountSettings {
  const [source, target, mode] = spec.split(':');
  // A relative path (`secrets/db`, `local/app.conf`: a volume name has no `/`) is a file or directory of the task directory.
  if (!source.startsWith('/') && source.includes('/')) return { Type: 'bind', Source: path.join(taskDir, path.normalize(source).replace(/^(\.\.(\/|$))+/, '')), Target: target, ReadOnly: mode === 'ro' };
  return { Type: source.startsWith('/') ? 'bind' : 'volume', Source: source, Target: target, ReadOnly: mode === 'ro' };
}

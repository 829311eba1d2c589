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
 * The Engine API create options for a task.
 * - `command` set: it is the program, run without the image's entrypoint, as `[command, ...args]`.
 * - no `command`: the image's entrypoint runs; non-empty `args` replace the image's CMD.
 * Ports are published on all host addresses, TCP only. CPU becomes `NanoCpus`, memory a hard limit.
 */
export function containerCreateOptions(request: TaskStartRequest, image: string): Docker.ContainerCreateOptions {
  const { config, args } = request;
  const exposedPorts: Record<string, object> = {};
  const portBindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const { hostPort, containerPort } of request.ports) {
    const key = `${containerPort}/tcp`;
    exposedPorts[key] = {};
    (portBindings[key] ??= []).push({ HostIp: '0.0.0.0', HostPort: String(hostPort) });
  }
  const hostConfig: Docker.HostConfig = {
    PortBindings: portBindings,
    // The agent restarts tasks by its restart policy; Docker must not do it behind its back.
    RestartPolicy: { Name: 'no' },
  };
  if (request.resources.memoryMiB > 0) hostConfig.Memory = Math.round(request.resources.memoryMiB * 1024 * 1024);
  if (request.resources.cpu > 0) hostConfig.NanoCpus = Math.round(request.resources.cpu * 1e9);
  const options: Docker.ContainerCreateOptions = {
    name: containerName(request.nodeName, request.taskName, request.allocId),
    Image: image,
    Env: Object.entries(request.env).map(([key, value]) => `${key}=${value}`),
    Labels: { [LABEL_ALLOC]: request.allocId, [LABEL_TASK]: request.taskName, [LABEL_NODE]: request.nodeName },
    ExposedPorts: exposedPorts,
    HostConfig: hostConfig,
  };
  if (config.command) {
    // An empty (not absent) entrypoint clears the image's, so `command` is what runs.
    options.Entrypoint = [];
    options.Cmd = [config.command, ...args];
  } else if (args.length > 0) {
    options.Cmd = args;
  }
  if (config.workdir) options.WorkingDir = config.workdir;
  return options;
}

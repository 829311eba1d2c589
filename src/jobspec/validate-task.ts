import type { DriverName, Resources, Task, TaskConfig } from '../model/index.ts';
import { DEFAULTS, IDENTIFIER, NAME } from './defaults.ts';
import { MapReader, indexPath, isMap, type Problems } from './reader.ts';
import { describeValue, parseCpu, parseDuration, parseSize } from './units.ts';
import { readServices } from './services.ts';
import { readUpstreams } from './upstreams.ts';
import { DRIVER_OPTION_KEYS, TASK_OPTION_KEYS, readDriverOptions, readTaskOptions } from './task-options.ts';

const TASK_KEYS = ['name', 'driver', 'config', 'env', 'resources', 'kill_timeout', 'services', 'upstreams', ...TASK_OPTION_KEYS] as const;
const CONFIG_KEYS = ['image', 'command', 'args', 'workdir', ...DRIVER_OPTION_KEYS] as const;
const RESOURCE_KEYS = ['cpu', 'memory', 'memory_max'] as const;
const DRIVERS: readonly DriverName[] = ['docker', 'process'];

/** Reads one task of a group; records every problem in `problems`. */
export function readTask(value: unknown, path: string, problems: Problems): Task {
  const fallback: Task = {
    name: '',
    config: {},
    env: {},
    resources: { ...DEFAULTS.resources },
    killTimeoutMs: DEFAULTS.killTimeoutMs,
  };
  const r = MapReader.open(value, { path, problems }, TASK_KEYS);
  if (r === undefined) return fallback;
  const task: Task = {
    name: r.string('name', '', { required: true, pattern: NAME.pattern, patternHelp: NAME.help }),
    config: readConfig(r),
    env: r.stringMap('env', IDENTIFIER),
    resources: readResources(r),
    killTimeoutMs: r.quantity('kill_timeout', parseDuration, DEFAULTS.killTimeoutMs),
  };
  const services = readServices(r, undefined);
  if (services) task.services = services;
  const upstreams = readUpstreams(r);
  if (upstreams) task.upstreams = upstreams;
  readTaskOptions(r, task);
  const driver = r.oneOf('driver', DRIVERS, undefined);
  if (driver !== undefined) task.driver = driver;
  // A config that is not a map has its own problem already; "needs an image" on top would be noise.
  if (!r.has('config') || isMap(r.get('config'))) checkDriverConfig(r, task);
  return task;
}

function readConfig(task: MapReader): TaskConfig {
  if (!task.has('config')) return {};
  const r = task.child('config', CONFIG_KEYS);
  if (r === undefined) return {};
  const config: TaskConfig = {};
  if (r.has('image')) config.image = r.string('image', '');
  if (r.has('command')) config.command = r.string('command', '');
  if (r.has('workdir')) config.workdir = r.string('workdir', '');
  if (r.has('args')) config.args = readArgs(r);
  readDriverOptions(r, config);
  return config;
}

/** Arguments are strings; numbers are accepted as written (`["-p", 8080]`) since that is what was meant. */
function readArgs(config: MapReader): string[] {
  const items = config.list('args', 'strings');
  const args: string[] = [];
  items.forEach((item, i) => {
    if (typeof item === 'string' || (typeof item === 'number' && Number.isFinite(item))) {
      args.push(String(item));
    } else {
      config.problems.add(indexPath(config.pathOf('args'), i), `must be a string, got ${describeValue(item)}`);
    }
  });
  return args;
}

function readResources(task: MapReader): Resources {
  if (!task.has('resources')) return { ...DEFAULTS.resources };
  const r = task.child('resources', RESOURCE_KEYS);
  if (r === undefined) return { ...DEFAULTS.resources };
  const resources: Resources = {
    cpu: r.quantity('cpu', parseCpu, DEFAULTS.resources.cpu),
    memoryMiB: r.quantity('memory', parseSize, DEFAULTS.resources.memoryMiB),
  };
  if (r.has('memory_max')) {
    resources.memoryMaxMiB = r.quantity('memory_max', parseSize, resources.memoryMiB);
    if (resources.memoryMaxMiB < resources.memoryMiB) r.problem('memory_max', `must be at least memory (${resources.memoryMiB} MiB)`);
  }
  return resources;
}

/**
 * Each driver needs something to run: docker an image, process a command. A task without a
 * driver runs on whichever the node defaults to, so it needs at least one of the two.
 */
function checkDriverConfig(r: MapReader, task: Task): void {
  const { image, command } = task.config;
  const configPath = r.pathOf('config');
  if (task.driver === 'docker' && image === undefined) {
    r.problems.add(`${configPath}.image`, 'required by the docker driver');
  } else if (task.driver === 'process' && command === undefined) {
    r.problems.add(`${configPath}.command`, 'required by the process driver');
  } else if (task.driver === 'process' && image !== undefined) {
    r.problems.add(`${configPath}.image`, 'the process driver does not run images; remove it or set driver: docker');
  } else if (task.driver === undefined && image === undefined && command === undefined) {
    r.problems.add(configPath, 'needs image (docker) or command (process), or both to run on either driver');
  }
}

import type { ErrorDetail, Group, JobType, PortSpec, RestartPolicy, UpdateStrategy } from '../model/index.ts';
import { DEFAULTS, IDENTIFIER, LIMITS, NAME, RESTART_DEFAULTS } from './defaults.ts';
import { MapReader, Problems, indexPath, isMap } from './reader.ts';
import type { JobInput } from './to-job.ts';
import { describeValue, parseDuration } from './units.ts';
import { readTask } from './validate-task.ts';
import { checkIngressClaims, ingressClaims } from './ingress.ts';
import { checkStrings } from './strings.ts';
import { checkTaskAddressModes, checkTaskServicePorts, readServices } from './services.ts';
import { checkUpdate, deploymentOnlyFields, mergeUpdate, readUpdate } from './update.ts';
import { GROUP_PLACEMENT_KEYS, JOB_PLACEMENT_KEYS, readGroupPlacement, readJobPlacement } from './placement-blocks.ts';
import { TRIGGER_KEYS, readTriggers } from './periodic.ts';

/** The outcome of reading a spec: the job with every default applied, or every problem found. */
export type ParseResult = { ok: true; job: JobInput } | { ok: false; errors: ErrorDetail[] };

const JOB_KEYS = ['id', 'type', 'priority', 'datacenters', 'meta', 'groups', 'update', ...JOB_PLACEMENT_KEYS, ...TRIGGER_KEYS] as const;
const GROUP_KEYS = ['name', 'count', 'ports', 'restart', 'tasks', 'services', 'update', ...GROUP_PLACEMENT_KEYS] as const;
const PORT_KEYS = ['label', 'static', 'to'] as const;
const RESTART_KEYS = ['attempts', 'interval', 'delay', 'mode'] as const;
const JOB_TYPES: readonly JobType[] = ['service', 'batch', 'system'];
const PORT_RANGE = { min: 1, max: 65_535 };

/**
 * Validates a spec that is already a value (an API body parsed as JSON, or a parsed YAML file)
 * and applies the defaults. Reports every problem with its path; never throws.
 */
export function validateJob(input: unknown): ParseResult {
  const problems = new Problems();
  checkStrings(input, problems);
  const job = readJob(input, problems);
  if (job === undefined || !problems.empty) return { ok: false, errors: problems.result() };
  return { ok: true, job };
}

function readJob(input: unknown, problems: Problems): JobInput | undefined {
  if (isMap(input) && Object.keys(input).length === 1 && isMap(input.job)) {
    problems.add('job', 'unknown field; a spec has no "job:" wrapper, write its fields (id, groups, ...) at the top level');
    return undefined;
  }
  const r = MapReader.open(input, { path: '', problems }, JOB_KEYS);
  if (r === undefined) return undefined;
  const type = r.oneOf('type', JOB_TYPES, DEFAULTS.type);
  const job: JobInput = {
    id: r.string('id', '', { required: true, pattern: NAME.pattern, patternHelp: NAME.help }),
    type,
    priority: r.int('priority', DEFAULTS.priority, { min: 1, max: 100 }),
    datacenters: readDatacenters(r),
    meta: r.stringMap('meta', { pattern: /^\S+$/, help: 'non-empty, without spaces' }),
    groups: readGroups(r, type, readUpdate(r)),
    ...readJobPlacement(r, type),
    ...readTriggers(r, type),
  };
  for (const p of checkIngressClaims(ingressClaims(job))) problems.add(p.path, p.message);
  return job;
}

function readDatacenters(r: MapReader): string[] {
  if (!r.has('datacenters')) return [...DEFAULTS.datacenters];
  const items = r.list('datacenters', 'datacenter names');
  if (Array.isArray(r.get('datacenters')) && items.length === 0) r.problem('datacenters', 'must name at least one datacenter');
  const names: string[] = [];
  items.forEach((item, i) => {
    const path = indexPath(r.pathOf('datacenters'), i);
    if (typeof item !== 'string' || !/^\S+$/.test(item)) {
      r.problems.add(path, `must be a datacenter name, got ${describeValue(item)}`);
    } else if (names.includes(item)) r.problems.add(path, `duplicate datacenter "${item}"`);
    else names.push(item);
  });
  return names;
}

function readGroups(r: MapReader, type: JobType, jobUpdate: Partial<UpdateStrategy> | undefined): Group[] {
  if (!r.has('groups')) {
    r.problem('groups', 'required: a job needs at least one group');
    return [];
  }
  const items = r.list('groups', 'groups');
  if (Array.isArray(r.get('groups')) && items.length === 0) r.problem('groups', 'must have at least one group');
  if (items.length > LIMITS.groups) {
    r.problem('groups', `a job may have at most ${LIMITS.groups} groups, this one has ${items.length}; split it into several jobs`);
    return [];
  }
  const groups = items.map((item, i) => readGroup(item, indexPath(r.pathOf('groups'), i), r.problems, type, jobUpdate));
  flagDuplicateNames(groups, r.pathOf('groups'), r.problems);
  const allocations = groups.reduce((n, g) => n + g.count, 0);
  if (type !== 'system' && allocations > LIMITS.allocations) {
    r.problem('groups', `a job may ask for at most ${LIMITS.allocations} allocations, its groups' counts add up to ${allocations}; lower the counts or split it into several jobs`);
  }
  return groups;
}

function readGroup(value: unknown, path: string, problems: Problems, type: JobType, jobUpdate?: Partial<UpdateStrategy>): Group {
  const restart = { ...RESTART_DEFAULTS[type] };
  const r = MapReader.open(value, { path, problems }, GROUP_KEYS);
  if (r === undefined) return { name: '', count: 0, tasks: [], ports: [], restart };
  const group: Group = {
    name: r.string('name', '', { required: true, pattern: NAME.pattern, patternHelp: NAME.help }),
    count: r.int('count', DEFAULTS.count, { min: 0, max: LIMITS.count }),
    tasks: [],
    ports: readPorts(r),
    restart: readRestart(r, restart),
  };
  if (!r.has('tasks')) r.problem('tasks', 'required: a group needs at least one task');
  const items = r.list('tasks', 'tasks');
  if (Array.isArray(r.get('tasks')) && items.length === 0) r.problem('tasks', 'must have at least one task');
  if (items.length > LIMITS.tasks) {
    r.problem('tasks', `a group may have at most ${LIMITS.tasks} tasks, this one has ${items.length}; move some into groups of their own`);
    return group;
  }
  group.tasks = items.map((item, i) => readTask(item, indexPath(r.pathOf('tasks'), i), problems));
  flagDuplicateNames(group.tasks, r.pathOf('tasks'), problems);
  const services = readServices(r, group.ports.map((p) => p.label));
  checkTaskServicePorts(group.tasks, group.ports.map((p) => p.label), { tasksPath: r.pathOf('tasks'), problems });
  checkTaskAddressModes(group.tasks, r.pathOf('tasks'), problems);
  if (services) group.services = services;
  Object.assign(group, readGroupPlacement(r, type));
  // Service jobs roll out versions through deployments; system jobs pace replacements by
  // max_parallel and stagger alone (Nomad's rule); batch jobs replace at once.
  const own = readUpdate(r);
  const update = mergeUpdate(jobUpdate, own);
  const ignored = type === 'system' ? deploymentOnlyFields(jobUpdate, own) : [];
  if (update !== undefined && type === 'batch') r.problem('update', 'only service and system jobs have an update strategy');
  else if (ignored.length > 0) r.problem('update', `system jobs have no deployment, so only max_parallel and stagger apply: remove ${ignored.join(', ')} from the update block`);
  else if (update !== undefined) {
    checkUpdate(update, r);
    group.update = update;
  }
  return group;
}

/** Names must be unique among siblings: allocations and task directories are named by them. */
function flagDuplicateNames(items: { name: string }[], path: string, problems: Problems): void {
  const seen = new Set<string>();
  items.forEach((item, i) => {
    if (item.name === '') return;
    if (seen.has(item.name)) problems.add(`${indexPath(path, i)}.name`, `duplicate name "${item.name}"`);
    seen.add(item.name);
  });
}

function readPorts(group: MapReader): PortSpec[] {
  const ports: PortSpec[] = [];
  group.list('ports', 'ports').forEach((item, i) => {
    const path = indexPath(group.pathOf('ports'), i);
    const r = MapReader.open(item, { path, problems: group.problems }, PORT_KEYS);
    if (r === undefined) return;
    const label = r.string('label', '', { required: true, pattern: IDENTIFIER.pattern, patternHelp: IDENTIFIER.help });
    const port: PortSpec = { label };
    if (r.has('static')) port.static = r.int('static', 0, PORT_RANGE);
    if (r.has('to')) port.to = r.int('to', 0, PORT_RANGE);
    if (label !== '' && ports.some((p) => p.label === label)) r.problem('label', `duplicate port label "${label}"`);
    if (port.static && ports.some((p) => p.static === port.static)) {
      r.problem('static', `port ${port.static} is already asked for by another label`);
    }
    ports.push(port);
  });
  return ports;
}

function readRestart(group: MapReader, defaults: RestartPolicy): RestartPolicy {
  if (!group.has('restart')) return defaults;
  const r = group.child('restart', RESTART_KEYS);
  if (r === undefined) return defaults;
  const policy: RestartPolicy = {
    attempts: r.int('attempts', defaults.attempts, { min: 0, max: LIMITS.restartAttempts }),
    intervalMs: r.quantity('interval', parseDuration, defaults.intervalMs),
    delayMs: r.quantity('delay', parseDuration, defaults.delayMs),
    mode: r.oneOf('mode', ['fail', 'delay'] as const, defaults.mode),
  };
  if (policy.intervalMs <= 0) r.problem('interval', `must be longer than 0s, got ${describeValue(r.get('interval'))}`);
  return policy;
}

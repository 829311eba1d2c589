/** The `periodic` and `parameterized` blocks of a batch job, and the `after` list of any job. */
import { DEPENDENCY_CONDITIONS, type Dependency, type DependencyCondition, type Job, type JobType, type ParameterizedConfig, type PeriodicConfig } from '../model/index.ts';
import { MapReader, indexPath } from './reader.ts';
import { checkSchedule } from './schedule.ts';
import { NAME } from './defaults.ts';
import { describeValue, parseDuration } from './units.ts';

/** Job keys read here. */
export const TRIGGER_KEYS = ['periodic', 'parameterized', 'after'] as const;

const PERIODIC_KEYS = ['cron', 'schedule', 'time_zone', 'concurrency', 'epsilon', 'enabled', 'retries', 'retry_delay'] as const;
const DEPENDENCY_KEYS = ['job', 'condition', 'restart'] as const;
const PARAMETERIZED_KEYS = ['payload', 'meta_required', 'meta_optional'] as const;
/** Default `epsilon`: a launch missed by up to a minute (a restart) still starts. */
const DEFAULT_EPSILON_MS = 60_000;

/** The trigger fields of a job map, only those given; `after` with conditions becomes `dependsOn`. */
export function readTriggers(r: MapReader, type: JobType): Partial<Pick<Job, 'periodic' | 'parameterized' | 'after' | 'dependsOn'>> {
  const out: Partial<Pick<Job, 'periodic' | 'parameterized' | 'after' | 'dependsOn'>> = {};
  for (const key of ['periodic', 'parameterized'] as const) if (r.has(key) && type !== 'batch') r.problem(key, `only batch jobs may have ${key}, this job is ${type}`);
  const periodic = readPeriodic(r);
  if (periodic) out.periodic = periodic;
  const parameterized = readParameterized(r);
  if (parameterized) out.parameterized = parameterized;
  if (periodic && parameterized) r.problem('parameterized', 'a job is either periodic or parameterized, not both');
  if (!r.has('after')) return out;
  const items = r.list('after', 'job ids or {job, condition} maps');
  // The short form on a batch job keeps its meaning: a chain (Chronos' parents), launched per success.
  if (type === 'batch' && items.every((item) => typeof item === 'string')) {
    const after = readChain(r, items);
    if (after.length > 0) out.after = after;
    return out;
  }
  if (periodic || parameterized) r.problem('after', 'a periodic or parameterized job takes after as a list of job ids only (it launches once they succeed); remove the conditions');
  const deps = readDependencies(r, items, type);
  if (deps.length > 0) out.dependsOn = deps;
  return out;
}

/** `after: [a, b]` on a batch job: the parents of a chain. */
function readChain(r: MapReader, items: unknown[]): string[] {
  const after: string[] = [];
  items.forEach((item, i) => {
    const path = indexPath(r.pathOf('after'), i);
    if (typeof item !== 'string' || !NAME.pattern.test(item)) r.problems.add(path, `must be a job id, got ${describeValue(item)}`);
    else if (after.includes(item)) r.problems.add(path, `duplicate parent "${item}"`);
    else if (item === r.get('id')) r.problems.add(path, `a job cannot run after itself (cycle: ${item} -> ${item})`);
    else after.push(item);
  });
  return after;
}

/**
 * `after:` with conditions: each item a job id (condition `completed` for a batch job, `started`
 * otherwise, as Compose's short `depends_on`) or a map `{job, condition, restart}`.
 */
function readDependencies(r: MapReader, items: unknown[], type: JobType): Dependency[] {
  const fallback: DependencyCondition = type === 'batch' ? 'completed' : 'started';
  const out: Dependency[] = [];
  items.forEach((item, i) => {
    const path = indexPath(r.pathOf('after'), i);
    let dep: Dependency | undefined;
    if (typeof item === 'string') {
      if (NAME.pattern.test(item)) dep = { job: item, condition: fallback, restart: false };
      else r.problems.add(path, `must be a job id or a map {job, condition, restart}, got ${describeValue(item)}`);
    } else {
      const m = MapReader.open(item, { path, problems: r.problems }, DEPENDENCY_KEYS);
      if (m === undefined) return;
      const job = m.string('job', '', { required: true, pattern: NAME.pattern, patternHelp: NAME.help });
      const condition = m.oneOf('condition', DEPENDENCY_CONDITIONS, fallback);
      if (job !== '') dep = { job, condition, restart: m.bool('restart', false) };
    }
    if (dep === undefined) return;
    const jobPath = typeof item === 'string' ? path : `${path}.job`;
    if (dep.job === r.get('id')) r.problems.add(jobPath, `a job cannot wait for itself (cycle: ${dep.job} -> ${dep.job}); remove this entry`);
    else if (out.some((d) => d.job === dep.job)) r.problems.add(jobPath, `duplicate dependency "${dep.job}"; give each job once`);
    else out.push(dep);
  });
  return out;
}


function readPeriodic(parent: MapReader): PeriodicConfig | undefined {
  if (!parent.has('periodic')) return undefined;
  const r = parent.child('periodic', PERIODIC_KEYS);
  if (r === undefined) return undefined;
  const config: PeriodicConfig = {
    timeZone: r.string('time_zone', 'UTC'),
    concurrency: r.oneOf('concurrency', ['allow', 'forbid', 'replace'] as const, 'forbid'),
    epsilonMs: r.quantity('epsilon', parseDuration, DEFAULT_EPSILON_MS),
    enabled: r.bool('enabled', true),
  };
  if (r.has('cron')) config.cron = r.string('cron', '');
  if (r.has('schedule')) config.schedule = r.string('schedule', '');
  if (config.cron !== undefined && config.schedule !== undefined) r.problem('schedule', 'give either cron or schedule, not both');
  if (r.has('retries')) config.retries = r.int('retries', 0, { min: 0, max: 100 });
  if (r.has('retry_delay')) config.retryDelayMs = r.quantity('retry_delay', parseDuration, 0);
  const problem = checkSchedule(config);
  if (problem !== undefined) r.problems.add(r.path, problem);
  return config;
}

function readParameterized(parent: MapReader): ParameterizedConfig | undefined {
  if (!parent.has('parameterized')) return undefined;
  const r = parent.child('parameterized', PARAMETERIZED_KEYS);
  if (r === undefined) return undefined;
  const names = (key: string): string[] =>
    r.list(key, 'meta keys').filter((v, i): v is string => {
      if (typeof v === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(v)) return true;
      r.problems.add(indexPath(r.pathOf(key), i), `must be a meta key (letters, digits, _), got ${describeValue(v)}`);
      return false;
    });
  const config: ParameterizedConfig = {
    payload: r.oneOf('payload', ['optional', 'required', 'forbidden'] as const, 'optional'),
    metaRequired: names('meta_required'),
    metaOptional: names('meta_optional'),
  };
  for (const k of config.metaRequired) if (config.metaOptional.includes(k)) r.problem('meta_optional', `"${k}" is already in meta_required`);
  return config;
}

/**
 * The `update` block of a job or group (Nomad's): how a new version replaces running allocations.
 * A group's block overrides the job's field by field; Nomad's defaults fill the rest.
 */
import type { UpdateStrategy } from '../model/index.ts';
import { type MapReader } from './reader.ts';
import { parseDuration } from './units.ts';

const UPDATE_KEYS = [
  'max_parallel',
  'health_check',
  'min_healthy_time',
  'healthy_deadline',
  'progress_deadline',
  'auto_revert',
  'canary',
  'auto_promote',
  'stagger',
] as const;

/** Nomad's defaults of an update block. */
export const UPDATE_DEFAULTS: UpdateStrategy = {
  maxParallel: 1,
  healthCheck: 'checks',
  minHealthyTimeMs: 10_000,
  healthyDeadlineMs: 5 * 60_000,
  progressDeadlineMs: 10 * 60_000,
  autoRevert: false,
  canary: 0,
  autoPromote: false,
  staggerMs: 30_000,
};

/** The fields an `update` block of `parent` sets (none when absent), checked. */
export function readUpdate(parent: MapReader): Partial<UpdateStrategy> | undefined {
  if (!parent.has('update')) return undefined;
  const r = parent.child('update', UPDATE_KEYS);
  if (r === undefined) return undefined;
  const out: Partial<UpdateStrategy> = {};
  if (r.has('max_parallel')) out.maxParallel = r.int('max_parallel', 1, { min: 0, max: 10_000 });
  if (r.has('health_check')) out.healthCheck = r.oneOf('health_check', ['checks', 'task_states', 'manual'] as const, 'checks');
  if (r.has('min_healthy_time')) out.minHealthyTimeMs = r.quantity('min_healthy_time', parseDuration, 0);
  if (r.has('healthy_deadline')) out.healthyDeadlineMs = r.quantity('healthy_deadline', parseDuration, 0);
  if (r.has('progress_deadline')) out.progressDeadlineMs = r.quantity('progress_deadline', parseDuration, 0);
  if (r.has('auto_revert')) out.autoRevert = r.bool('auto_revert', false);
  if (r.has('canary')) out.canary = r.int('canary', 0, { min: 0, max: 10_000 });
  if (r.has('auto_promote')) out.autoPromote = r.bool('auto_promote', false);
  if (r.has('stagger')) out.staggerMs = r.quantity('stagger', parseDuration, 0);
  return out;
}

/** The strategy of a group: its block over the job's over the defaults; absent when neither has one. */
export function mergeUpdate(job: Partial<UpdateStrategy> | undefined, group: Partial<UpdateStrategy> | undefined): UpdateStrategy | undefined {
  if (job === undefined && group === undefined) return undefined;
  return { ...UPDATE_DEFAULTS, ...job, ...group };
}

/** The spec names of the fields a system job cannot use: they steer deployments, which system jobs do not have. */
const DEPLOYMENT_FIELDS: Partial<Record<keyof UpdateStrategy, string>> = {
  healthCheck: 'health_check',
  minHealthyTimeMs: 'min_healthy_time',
  healthyDeadlineMs: 'healthy_deadline',
  progressDeadlineMs: 'progress_deadline',
  autoRevert: 'auto_revert',
  canary: 'canary',
  autoPromote: 'auto_promote',
};

/**
 * The fields set in a system job's update blocks (the job's and the group's) besides
 * `max_parallel` and `stagger`, by their spec names: system jobs pace replacements by those two
 * alone (Nomad's rule), so any other would be silently ignored.
 */
export function deploymentOnlyFields(job: Partial<UpdateStrategy> | undefined, group: Partial<UpdateStrategy> | undefined): string[] {
  const set = { ...job, ...group };
  return Object.keys(set).flatMap((k) => DEPLOYMENT_FIELDS[k as keyof UpdateStrategy] ?? []);
}

/** Cross-field rules, reported on the block that breaks them. */
export function checkUpdate(u: UpdateStrategy, parent: MapReader, key = 'update'): void {
  if (u.healthyDeadlineMs <= u.minHealthyTimeMs) parent.problem(key, `healthy_deadline (${u.healthyDeadlineMs} ms) must be longer than min_healthy_time (${u.minHealthyTimeMs} ms)`);
  if (u.progressDeadlineMs !== 0 && u.progressDeadlineMs < u.healthyDeadlineMs) {
    parent.problem(key, `progress_deadline (${u.progressDeadlineMs} ms) must be 0 or at least healthy_deadline (${u.healthyDeadlineMs} ms)`);
  }
  if (u.autoPromote && u.canary === 0) parent.problem(key, 'auto_promote needs canary > 0');
}


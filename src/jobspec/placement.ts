/**
 * Placement blocks of a job or group (Nomad's field names): `constraints`, `affinities`, `spreads`,
 * and of a group `reschedule`, `disconnect` and `migrate`. The scheduler reads them; see
 * src/scheduler/README.md for what each operator means and the Marathon mapping.
 */
import type { Affinity, Constraint, ConstraintOperator, DisconnectPolicy, JobType, ReschedulePolicy, Spread } from '../model/index.ts';
import { RESCHEDULE_DEFAULTS } from './defaults.ts';
import { MapReader, indexPath } from './reader.ts';
import { describeValue, parseDuration } from './units.ts';

const OPERATORS: readonly ConstraintOperator[] = [
  '=',
  '!=',
  '>',
  '>=',
  '<',
  '<=',
  'regexp',
  'set_contains',
  'set_contains_any',
  'version',
  'semver',
  'is_set',
  'is_not_set',
  'distinct_hosts',
  'distinct_property',
];
/** Operators that need no right-hand side. */
const UNARY: readonly ConstraintOperator[] = ['is_set', 'is_not_set', 'distinct_hosts'];
const CONSTRAINT_KEYS = ['attribute', 'operator', 'value'] as const;
const AFFINITY_KEYS = ['attribute', 'operator', 'value', 'weight'] as const;
const SPREAD_KEYS = ['attribute', 'weight', 'targets'] as const;
const TARGET_KEYS = ['value', 'percent'] as const;
const RESCHEDULE_KEYS = ['attempts', 'interval', 'delay', 'delay_function', 'max_delay', 'unlimited'] as const;
const DISCONNECT_KEYS = ['lost_after', 'replace', 'reconcile'] as const;
const MIGRATE_KEYS = ['max_parallel'] as const;

/** Keys the job map may hold for placement. */
export const JOB_PLACEMENT_KEYS = ['constraints', 'affinities', 'spreads', 'max_run_duration'] as const;
/** Keys a group map may hold for placement. */
export const GROUP_PLACEMENT_KEYS = ['constraints', 'affinities', 'spreads', 'reschedule', 'disconnect', 'migrate'] as const;

function readRule(r: MapReader, withWeight: boolean): (Constraint & { weight?: number }) | undefined {
  const operator = r.oneOf('operator', OPERATORS, '=');
  const rule: Constraint & { weight?: number } = { attribute: r.has('attribute') ? r.string('attribute', '') : '', operator };
  if (rule.attribute === '' && operator !== 'distinct_hosts') r.problem('attribute', 'required');
  if (r.has('value')) {
    const v = r.get('value');
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') rule.value = String(v);
    else r.problem('value', `must be a string, got ${describeValue(v)}`);
  } else if (!UNARY.includes(operator) && operator !== 'distinct_property') r.problem('value', `required with operator "${operator}"`);
  if (operator === 'regexp' && rule.value !== undefined) {
    try {
      new RegExp(rule.value);
    } catch (err) {
      r.problem('value', `must be a regular expression: ${(err as Error).message}`);
    }
  }
  if (operator === 'distinct_property' && rule.value !== undefined && !/^[1-9]\d*$/.test(rule.value)) r.problem('value', 'must be a positive count');
  if (withWeight) rule.weight = r.int('weight', 50, { min: -100, max: 100 });
  return rule;
}

/** The `constraints` list of a map. */
export function readConstraints(parent: MapReader): Constraint[] | undefined {
  if (!parent.has('constraints')) return undefined;
  const out: Constraint[] = [];
  parent.list('constraints', 'constraints').forEach((item, i) => {
    const r = MapReader.open(item, { path: indexPath(parent.pathOf('constraints'), i), problems: parent.problems }, CONSTRAINT_KEYS);
    const rule = r && readRule(r, false);
    if (rule) out.push(rule);
  });
  return out;
}

/** The `affinities` list of a map. */
export function readAffinities(parent: MapReader): Affinity[] | undefined {
  if (!parent.has('affinities')) return undefined;
  const out: Affinity[] = [];
  parent.list('affinities', 'affinities').forEach((item, i) => {
    const r = MapReader.open(item, { path: indexPath(parent.pathOf('affinities'), i), problems: parent.problems }, AFFINITY_KEYS);
    const rule = r && readRule(r, true);
    if (rule) out.push({ ...rule, weight: rule.weight ?? 50 });
  });
  return out;
}

/** The `spreads` list of a map. */
export function readSpreads(parent: MapReader): Spread[] | undefined {
  if (!parent.has('spreads')) return undefined;
  const out: Spread[] = [];
  parent.list('spreads', 'spreads').forEach((item, i) => {
    const r = MapReader.open(item, { path: indexPath(parent.pathOf('spreads'), i), problems: parent.problems }, SPREAD_KEYS);
    if (r === undefined) return;
    const spread: Spread = { attribute: r.string('attribute', '', { required: true }), weight: r.int('weight', 50, { min: 0, max: 100 }), targets: [] };
    r.list('targets', 'targets').forEach((t, j) => {
      const tr = MapReader.open(t, { path: indexPath(r.pathOf('targets'), j), problems: r.problems }, TARGET_KEYS);
      if (tr) spread.targets.push({ value: tr.string('value', '', { required: true }), percent: tr.int('percent', 0, { min: 0, max: 100 }) });
    });
    if (spread.targets.reduce((s, t) => s + t.percent, 0) > 100) r.problem('targets', 'percentages must add up to at most 100');
    out.push(spread);
  });
  return out;
}


/** A group's `reschedule` block, over its job type's defaults. */
export function readReschedule(parent: MapReader, type: JobType): ReschedulePolicy | undefined {
  if (!parent.has('reschedule')) return undefined;
  const d = RESCHEDULE_DEFAULTS[type];
  const r = parent.child('reschedule', RESCHEDULE_KEYS);
  if (r === undefined) return undefined;
  return {
    attempts: r.int('attempts', d.attempts, { min: 0, max: 1_000 }),
    intervalMs: r.quantity('interval', parseDuration, d.intervalMs),
    delayMs: r.quantity('delay', parseDuration, d.delayMs),
    delayFunction: r.oneOf('delay_function', ['constant', 'exponential', 'fibonacci'] as const, d.delayFunction),
    maxDelayMs: r.quantity('max_delay', parseDuration, d.maxDelayMs),
    unlimited: r.bool('unlimited', d.unlimited),
  };
}

/** A group's `disconnect` block. */
export function readDisconnect(parent: MapReader): DisconnectPolicy | undefined {
  if (!parent.has('disconnect')) return undefined;
  const r = parent.child('disconnect', DISCONNECT_KEYS);
  if (r === undefined) return undefined;
  const policy: DisconnectPolicy = {
    replace: r.bool('replace', true),
    reconcile: r.oneOf('reconcile', ['keep_original', 'keep_replacement', 'best_score', 'longest_running'] as const, 'best_score'),
  };
  if (r.has('lost_after')) policy.lostAfterMs = r.quantity('lost_after', parseDuration, 0);
  return policy;
}

/** A group's `migrate` block. */
export function readMigrate(parent: MapReader): { maxParallel: number } | undefined {
  if (!parent.has('migrate')) return undefined;
  const r = parent.child('migrate', MIGRATE_KEYS);
  if (r === undefined) return undefined;
  return { maxParallel: r.int('max_parallel', 1, { min: 1, max: 10_000 }) };
}

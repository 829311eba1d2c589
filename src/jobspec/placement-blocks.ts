import type { Group, Job, JobType } from '../model/index.ts';
import { readAffinities, readConstraints, readDisconnect, readMigrate, readReschedule, readSpreads } from './placement.ts';
import type { MapReader } from './reader.ts';
import { describeValue, parseDuration } from './units.ts';

export { GROUP_PLACEMENT_KEYS, JOB_PLACEMENT_KEYS } from './placement.ts';

/** The placement fields of a job map, only those given (so specs without them store as before). */
export function readJobPlacement(r: MapReader, type: JobType): Partial<Pick<Job, 'constraints' | 'affinities' | 'spreads' | 'maxRunDurationMs'>> {
  const out: Partial<Pick<Job, 'constraints' | 'affinities' | 'spreads' | 'maxRunDurationMs'>> = {};
  const constraints = readConstraints(r);
  if (constraints) out.constraints = constraints;
  const affinities = readAffinities(r);
  if (affinities) out.affinities = affinities;
  const spreads = readSpreads(r);
  if (spreads) out.spreads = spreads;
  if (r.has('max_run_duration')) {
    if (type !== 'batch') r.problem('max_run_duration', 'only batch jobs have a max_run_duration');
    // -1 when it does not parse (a problem of its own already); 0 is a limit no run can meet.
    out.maxRunDurationMs = r.quantity('max_run_duration', parseDuration, -1);
    if (out.maxRunDurationMs === 0) r.problem('max_run_duration', `must be longer than 0s, got ${describeValue(r.get('max_run_duration'))}; remove it to let the job run without a limit`);
  }
  return out;
}

/** The placement fields of a group map, only those given. */
export function readGroupPlacement(r: MapReader, type: JobType): Partial<Group> {
  const out: Partial<Group> = {};
  const constraints = readConstraints(r);
  if (constraints) out.constraints = constraints;
  const affinities = readAffinities(r);
  if (affinities) out.affinities = affinities;
  const spreads = readSpreads(r);
  if (spreads) out.spreads = spreads;
  const reschedule = readReschedule(r, type);
  if (reschedule) out.reschedule = reschedule;
  const disconnect = readDisconnect(r);
  if (disconnect) out.disconnect = disconnect;
  const migrate = readMigrate(r);
  if (migrate) out.migrate = migrate;
  return out;
}

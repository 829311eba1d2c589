import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PeriodicConfig } from '../model/index.ts';
import { checkSchedule, nextLaunch, nextLaunches } from './schedule.ts';
import { parseJobSpec } from './parse.ts';

const base: PeriodicConfig = { timeZone: 'UTC', concurrency: 'forbid', epsilonMs: 60_000, enabled: true };
const iso = (ms: number[]): string[] => ms.map((t) => new Date(t).toISOString());

test('a daily 02:30 cron in Europe/Paris follows the clock across both DST changes', () => {
  const config = { ...base, cron: '30 2 * * *', timeZone: 'Europe/Paris' };
  // Spring forward on 2026-03-29: 02:30 does not exist that day, the run comes at 03:00 local.
  assert.deepEqual(iso(nextLaunches(config, Date.parse('2026-03-27T12:00:00Z'), 3)), [
    '2026-03-28T01:30:00.000Z',
    '2026-03-29T01:00:00.000Z',
    '2026-03-30T00:30:00.000Z',
  ]);
  // Fall back on 2026-10-25: 02:30 happens twice, the job runs once.
  const autumn = nextLaunches(config, Date.parse('2026-10-24T12:00:00Z'), 3);
  assert.deepEqual(iso(autumn).map((s) => s.slice(0, 10)), ['2026-10-25', '2026-10-26', '2026-10-27']);
  assert.equal(iso(autumn)[1], '2026-10-26T01:30:00.000Z');
});

test('an ISO8601 daily repeat keeps 09:00 Paris time across the spring change', () => {
  const config = { ...base, schedule: 'R/2026-03-27T09:00:00+01:00/P1D', timeZone: 'Europe/Paris' };
  assert.deepEqual(iso(nextLaunches(config, Date.parse('2026-03-27T00:00:00Z'), 3)), [
    '2026-03-27T08:00:00.000Z',
    '2026-03-28T08:00:00.000Z',
    '2026-03-29T07:00:00.000Z',
  ]);
});

test('R5 launches exactly five times, then the schedule has ended', () => {
  const config = { ...base, schedule: 'R5/2026-01-01T00:00:00Z/PT1H' };
  const all = nextLaunches(config, 0, 10);
  assert.equal(all.length, 5);
  assert.equal(iso(all).at(-1), '2026-01-01T04:00:00.000Z');
  assert.equal(nextLaunch(config, all[4]), undefined);
});

test('an empty START counts from the anchor (the registration time)', () => {
  const anchor = Date.parse('2026-05-01T10:00:07Z');
  const config = { ...base, schedule: 'R//PT30S', anchorMs: anchor };
  assert.deepEqual(iso(nextLaunches(config, anchor, 2)), ['2026-05-01T10:00:37.000Z', '2026-05-01T10:01:07.000Z']);
  assert.equal(nextLaunch(config, anchor - 1), anchor);
});

test('a 6-field cron has seconds first', () => {
  const config = { ...base, cron: '*/15 * * * * *' };
  assert.deepEqual(iso(nextLaunches(config, Date.parse('2026-01-01T00:00:00Z'), 3)), [
    '2026-01-01T00:00:15.000Z',
    '2026-01-01T00:00:30.000Z',
    '2026-01-01T00:00:45.000Z',
  ]);
});

test('bad schedules are refused with what is wrong', () => {
  assert.match(checkSchedule({ cron: '* * *', timeZone: 'UTC' }) ?? '', /5 fields/);
  assert.match(checkSchedule({ cron: '* * * * * * *', timeZone: 'UTC' }) ?? '', /got 7/);
  assert.match(checkSchedule({ cron: '61 * * * *', timeZone: 'UTC' }) ?? '', /cron:/);
  assert.match(checkSchedule({ cron: '* * * * *', timeZone: 'Mars/Olympus' }) ?? '', /unknown IANA time zone/);
  assert.match(checkSchedule({ schedule: 'R5/2026-01-01T00:00:00Z/1H', timeZone: 'UTC' }) ?? '', /PERIOD must be/);
  assert.match(checkSchedule({ schedule: 'R/2026-01-01/PT1H', timeZone: 'UTC' }) ?? '', /START must be/);
  assert.match(checkSchedule({ timeZone: 'UTC' }) ?? '', /one of cron and schedule/);
});

test('a spec reads periodic, parameterized and after blocks, with defaults', () => {
  const spec = (extra: string): ReturnType<typeof parseJobSpec> =>
    parseJobSpec(`id: j\ntype: batch\ngroups: [{name: g, tasks: [{name: t, driver: process, config: {command: /bin/true}}]}]\n${extra}`);
  const p = spec('periodic: {cron: "*/5 * * * *", time_zone: Europe/Paris}\nafter: [a, b]');
  assert.ok(p.ok);
  assert.deepEqual(p.job.periodic, { cron: '*/5 * * * *', timeZone: 'Europe/Paris', concurrency: 'forbid', epsilonMs: 60_000, enabled: true });
  assert.deepEqual(p.job.after, ['a', 'b']);
  const q = spec('parameterized: {payload: required, meta_required: [who]}');
  assert.ok(q.ok);
  assert.deepEqual(q.job.parameterized, { payload: 'required', metaRequired: ['who'], metaOptional: [] });
  const bad = spec('periodic: {cron: "* *", concurrency: sometimes}\nafter: [j]');
  assert.ok(!bad.ok);
  const text = bad.errors.map((e) => `${e.path}: ${e.message}`).join('\n');
  assert.match(text, /periodic.concurrency: must be one of allow, forbid, replace/);
  assert.match(text, /cron: must have 5 fields/);
  assert.match(text, /cycle: j -> j/);
});

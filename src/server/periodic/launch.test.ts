import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Job } from '../../model/index.ts';
import { childJob, periodicChildId } from './launch.ts';

const parent: Job = {
  id: 'backup',
  type: 'batch',
  priority: 50,
  datacenters: ['dc1'],
  meta: { team: 'ops' },
  version: 3,
  stop: false,
  submitTime: 1,
  periodic: { cron: '0 3 * * *', timeZone: 'UTC', concurrency: 'forbid', epsilonMs: 60_000, enabled: true, retries: 2, retryDelayMs: 5_000 },
  groups: [
    {
      name: 'g',
      count: 1,
      ports: [],
      restart: { attempts: 0, intervalMs: 1000, delayMs: 0, mode: 'fail' },
      tasks: [{ name: 't', config: { command: '/bin/true' }, env: { KEEP: '1' }, resources: { cpu: 0.1, memoryMiB: 16 }, killTimeoutMs: 1000 }],
    },
  ],
};

test('a child is the template without its triggers, named by the scheduled unix time', () => {
  const id = periodicChildId('backup', Date.parse('2026-01-01T03:00:00Z'));
  assert.equal(id, 'backup/periodic-1767236400');
  const child = childJob({ parent, scheduled: 0, trigger: 'periodic', now: 42, childId: id });
  assert.equal(child.id, id);
  assert.equal(child.parentId, 'backup');
  assert.equal(child.periodic, undefined);
  assert.equal(child.version, 0);
  assert.equal(child.submitTime, 42);
});

test('retries and retry_delay become the batch reschedule policy of every group', () => {
  const child = childJob({ parent, scheduled: 0, trigger: 'periodic', now: 0, childId: 'backup/periodic-1' });
  assert.deepEqual(child.groups[0].reschedule, { attempts: 2, intervalMs: 86_400_000, delayMs: 5_000, delayFunction: 'constant', maxDelayMs: 5_000, unlimited: false });
});

test('dispatch meta reaches the tasks as BERTH_META_<key>, the task env winning', () => {
  const child = childJob({ parent, scheduled: 0, trigger: 'dispatch', now: 0, childId: 'backup/dispatch-1', meta: { who: 'ann', KEEP: 'x' }, payload: 'aGk=' });
  assert.deepEqual(child.groups[0].tasks[0].env, { BERTH_META_who: 'ann', BERTH_META_KEEP: 'x', KEEP: '1' });
  assert.deepEqual(child.meta, { team: 'ops', who: 'ann', KEEP: 'x' });
  assert.equal(child.payload, 'aGk=');
  assert.equal(parent.groups[0].tasks[0].env.BERTH_META_who, undefined, 'the template is untouched');
});

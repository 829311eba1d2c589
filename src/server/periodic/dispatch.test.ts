import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { JobRun } from '../../model/index.ts';
import type { JobListItem } from '../../api/index.ts';
import { SqliteBackend } from '../../state/index.ts';
import { silentLogger } from '../../lib/index.ts';
import { Server } from '../server.ts';
import { TestServer } from '../test-server.test-helper.ts';

const template = {
  id: 'resize',
  type: 'batch',
  parameterized: { payload: 'optional', meta_optional: ['size'] },
  groups: [{ name: 'g', tasks: [{ name: 't', driver: 'process', config: { command: '/bin/true' } }] }],
};

test('a dispatch with an idempotency token creates one child while it exists, however often and concurrently it is sent', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-dispatch-'));
  const ts = new TestServer(await Server.start({ backend: await SqliteBackend.open(path.join(dir, 'state.db')), logger: silentLogger(), port: 0 }));
  t.after(async () => {
    await ts.stop();
    await rm(dir, { recursive: true, force: true });
  });
  await ts.ok('POST', '/v1/jobs', template);
  const dispatch = (body: Record<string, unknown>): Promise<JobRun> => ts.ok<JobRun>('POST', '/v1/jobs/resize/dispatch', body);
  const children = async (): Promise<string[]> => (await ts.ok<JobListItem[]>('GET', '/v1/jobs')).map((j) => j.id).filter((id) => id.startsWith('resize/'));

  const first = await dispatch({ meta: { size: '10' }, idempotencyToken: 'order-17' });
  assert.match(first.childId!, /^resize\/dispatch-[0-9a-f]{16}$/);
  const again = await dispatch({ meta: { size: '99' }, idempotencyToken: 'order-17' });
  assert.deepEqual(again, first, 'the same run comes back, the second meta ignored');
  const racing = await Promise.all(Array.from({ length: 5 }, () => dispatch({ idempotencyToken: 'order-18' })));
  assert.equal(new Set(racing.map((r) => r.childId)).size, 1, 'concurrent dispatches with one token share one child');
  const plain = await dispatch({});
  assert.deepEqual((await children()).sort(), [first.childId, racing[0].childId, plain.childId].sort());
  const runs = (await ts.ok<{ runs: JobRun[] }>('GET', '/v1/jobs/resize/runs')).runs;
  assert.equal(runs.length, 3, 'one run per child');
  assert.equal(runs.find((r) => r.childId === first.childId)?.idempotencyToken, 'order-17');

  // Once the child is gone, the token dispatches anew.
  await ts.ok('DELETE', `/v1/jobs/${encodeURIComponent(first.childId!)}?purge=true`);
  const later = await dispatch({ idempotencyToken: 'order-17' });
  assert.equal(later.childId, first.childId);
  assert.ok(later.launched! >= first.launched! && later.scheduled !== first.scheduled, 'a new run');
  assert.equal((await dispatch({ idempotencyToken: 'order-17' })).scheduled, later.scheduled, 'and that one is returned from then on');

  const empty = await ts.request('POST', '/v1/jobs/resize/dispatch', { idempotencyToken: '' });
  assert.equal(empty.status, 400);
  assert.match(empty.text, /idempotencyToken/);
  assert.equal((await children()).length, 3, 'a refused dispatch creates nothing');
});

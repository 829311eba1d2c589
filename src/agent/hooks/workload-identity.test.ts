import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ServerPool } from '../../api/index.ts';
import { silentLogger, systemClock } from '../../lib/index.ts';
import type { Allocation } from '../../model/index.ts';
import { FakeClock } from '../../testing/index.ts';
import type { HookedAlloc, RunningTask } from '../allocs/alloc-hook.ts';
import { WORKLOAD_TOKEN_ENV, workloadIdentityHook } from './workload-identity.ts';

const alloc = { alloc: { id: 'a-1' } as Allocation } as HookedAlloc;
const task = (): RunningTask => ({ request: { env: {} } }) as unknown as RunningTask;

/** A pool whose answers are scripted: an Error is a server that does not answer. */
function pool(answers: (Response | Error)[]): { servers: ServerPool; paths: string[] } {
  const paths: string[] = [];
  const servers = {
    fetch: async (path: string) => {
      paths.push(path);
      const next = answers.shift() ?? new Error('no more answers');
      if (next instanceof Error) throw next;
      return next;
    },
  } as unknown as ServerPool;
  return { servers, paths };
}

test("each task of the allocation gets its token in BERTH_WORKLOAD_TOKEN, fetched once", async () => {
  const { servers, paths } = pool([Response.json({ allocId: 'a-1', token: 'wi:a-1:mac' })]);
  const hook = workloadIdentityHook(alloc, { servers, logger: silentLogger(), clock: systemClock });
  const [web, sidecar] = [task(), task()];
  await hook.prerun!(web);
  await hook.prerun!(sidecar);
  assert.equal(web.request.env[WORKLOAD_TOKEN_ENV], 'wi:a-1:mac');
  assert.equal(sidecar.request.env[WORKLOAD_TOKEN_ENV], 'wi:a-1:mac');
  assert.deepEqual(paths, ['/v1/allocations/a-1/identity']);
  hook.stop!();
});

test('while the servers do not answer the task goes on, and its env gets the token once they do', async () => {
  const { servers, paths } = pool([new Error('ECONNREFUSED'), Response.json({ allocId: 'a-1', token: 'wi:a-1:late' })]);
  const clock = new FakeClock();
  const hook = workloadIdentityHook(alloc, { servers, logger: silentLogger(), clock });
  const web = task();
  await hook.prerun!(web);
  assert.equal(web.request.env[WORKLOAD_TOKEN_ENV], undefined, 'the first try failed');
  await clock.run(999, 333);
  assert.equal(paths.length, 1, 'no second try before the backoff');
  await clock.run(1, 1);
  await new Promise((r) => setImmediate(r));
  assert.equal(paths.length, 2);
  assert.equal(web.request.env[WORKLOAD_TOKEN_ENV], 'wi:a-1:late', 'the running task\'s env got the token');
  hook.stop!();
});

test('a refusal is not retried: the tasks run without a token', async () => {
  const { servers, paths } = pool([Response.json({ error: { code: 'forbidden' } }, { status: 403 })]);
  const clock = new FakeClock();
  const hook = workloadIdentityHook(alloc, { servers, logger: silentLogger(), clock });
  const web = task();
  await hook.prerun!(web);
  await clock.run(60_000, 1000);
  assert.equal(web.request.env[WORKLOAD_TOKEN_ENV], undefined);
  assert.equal(paths.length, 1);
  hook.stop!();
});

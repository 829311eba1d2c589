import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BerthError } from '../../model/index.ts';
import { silentLogger } from '../../lib/index.ts';
import type { NodeRegisterRequest } from '../../api/index.ts';
import { FakeClock } from '../../testing/index.ts';
import { NodeRegistration } from './registration.ts';

const turn = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve));

/** A registration against a stub server that answers with `ttlMs` and fails the heartbeats listed. */
function setup(ttlMs: number, failing: Set<number> = new Set()) {
  const clock = new FakeClock(0);
  const calls: { what: 'register' | 'heartbeat'; at: number }[] = [];
  const client = {
    registerNode: async () => {
      calls.push({ what: 'register' as const, at: clock.now() });
      return { heartbeatTtlMs: ttlMs, index: 1 };
    },
    heartbeat: async () => {
      const n = calls.filter((c) => c.what === 'heartbeat').length;
      calls.push({ what: 'heartbeat' as const, at: clock.now() });
      if (failing.has(n)) throw n === 0 ? new BerthError('not_found', 'no such node') : new Error('server away');
      return { heartbeatTtlMs: ttlMs, index: 1 };
    },
  };
  const stop = new AbortController();
  const request = { id: 'n1', name: 'n1' } as NodeRegisterRequest;
  const node = new NodeRegistration({ client, request, clock, logger: silentLogger(), signal: stop.signal });
  return { clock, calls, node, stop };
}

test('heartbeats every half TTL (less up to a tenth of jitter) after registering, until stopped', async () => {
  const { clock, calls, node, stop } = setup(10_000);
  await node.register();
  const loop = node.heartbeatLoop();
  await clock.run(16_000, 100);
  const beats = calls.filter((c) => c.what === 'heartbeat').map((c) => c.at);
  assert.equal(beats.length, 3, `heartbeats at ${beats.join(', ')}`);
  for (const [i, at] of beats.entries()) {
    const gap = at - (i === 0 ? 0 : beats[i - 1]);
    assert.ok(gap > 4_000 && gap <= 5_100, `gap ${gap}`);
  }
  stop.abort();
  await loop;
  await clock.run(20_000, 1_000);
  assert.equal(calls.filter((c) => c.what === 'heartbeat').length, 3, 'no heartbeat after stop');
});

test('registers again when the server no longer knows the node, and backs off after a failure', async () => {
  const { clock, calls, node, stop } = setup(10_000, new Set([0, 1]));
  await node.register();
  const loop = node.heartbeatLoop();
  await clock.run(5_100, 100);
  await turn();
  // The first heartbeat falls 4.5-5 s in (half the TTL less jitter); the retry after the second
  // registration may or may not fall inside this window too, so only the start is fixed here.
  assert.deepEqual(calls.slice(0, 3).map((c) => c.what), ['register', 'heartbeat', 'register'], 'not_found: registered again');
  await clock.run(5_100, 100);
  const [, , , failed, retried] = calls;
  assert.equal(failed?.what, 'heartbeat');
  assert.equal(retried?.what, 'heartbeat');
  assert.ok(retried.at - failed.at < 4_000, `a failed heartbeat is retried sooner than half the TTL (${retried.at - failed.at} ms)`);
  stop.abort();
  await loop;
});

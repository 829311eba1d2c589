import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { etcdSkipReason, startEtcd, type EtcdCluster } from '../testing/index.ts';
import { isBerthError } from '../model/index.ts';
import type { StateBackend, WatchBatch } from './backend.ts';
import { sleep } from './contract-helpers.test-helper.ts';
import { stateBackendContract } from './contract.test-suite.ts';
import { EtcdBackend } from './etcd-backend.ts';
import { alloc, job } from './fixtures.test-helper.ts';
import { StateStore } from './store.ts';
import { StateView } from './view.ts';

const skip = etcdSkipReason();
let etcd: EtcdCluster | undefined;
before(async () => {
  if (!skip) etcd = await startEtcd();
});
after(async () => etcd?.stop());

/** Runs `fn` until it resolves, for at most `ms` (a write while a new leader is elected). */
async function retryFor<T>(ms: number, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(100);
    }
  }
}

/** Writes `count` keys under `prefix`, one revision each, and returns the last revision. */
async function putMany(b: StateBackend, prefix: string, count: number): Promise<number> {
  let revision = 0;
  for (let i = 0; i < count; i++) revision = await b.put(`${prefix}${i}`, String(i));
  return revision;
}

if (skip) {
  describe('etcd backend contract', { skip }, () => {});
} else {
  stateBackendContract('etcd', async () => {
    const backend = await EtcdBackend.open(etcd!.endpoints);
    return {
      backend,
      // The suite wants an empty keyspace per test; revisions only ever grow, which it allows.
      cleanup: async () => {
        await backend.delete({ prefix: '' });
        await backend.close();
      },
    };
  });
}

describe('etcd backend', { skip }, () => {
  it('grants lease ids that are exact JavaScript numbers', async () => {
    const b = await EtcdBackend.open(etcd!.endpoints);
    const leases = await Promise.all([1, 2, 3, 4, 5].map(() => b.leaseGrant(30)));
    for (const { id } of leases) assert.ok(Number.isSafeInteger(id) && id > 0, String(id));
    await b.put('lease/k', 'v', { lease: leases[0].id });
    assert.equal((await b.range({ key: 'lease/k' })).kvs[0].lease, leases[0].id);
    for (const { id } of leases) await b.leaseRevoke(id);
    assert.equal((await b.range({ key: 'lease/k' })).count, 0);
    await b.close();
  });

  it('refuses calls after close and says why it cannot open', async () => {
    const b = await EtcdBackend.open(etcd!.endpoints);
    await b.close();
    await assert.rejects(b.put('k', 'v'), (err) => isBerthError(err, 'unavailable') && /backend is closed/.test(err.message));
    await assert.rejects(
      EtcdBackend.open(['http://127.0.0.1:1'], { callTimeoutMs: 1000 }),
      (err) => isBerthError(err, 'unavailable') && err.message.startsWith('Cannot open etcd state at http://127.0.0.1:1'),
    );
  });

  it('reads a range larger than gRPC\'s default 4 MiB message limit', async () => {
    const b = await EtcdBackend.open(etcd!.endpoints);
    const big = 'x'.repeat(1024 * 1024);
    for (let i = 0; i < 6; i++) await b.put(`big/${i}`, big);
    const r = await b.range({ prefix: 'big/' });
    assert.deepEqual([r.count, r.kvs.every((kv) => kv.value.length === big.length)], [6, true]);
    await b.delete({ prefix: 'big/' });
    await b.close();
  });

  it('answers concurrent write txns each by its own compares, though they share etcd txns', async () => {
    const b = await EtcdBackend.open(etcd!.endpoints);
    try {
      // Five writers race to create each of 20 keys: exactly one wins each, the rest see it taken.
      const attempts = Array.from({ length: 100 }, (_, i) => ({ key: `race/${i % 20}`, writer: Math.floor(i / 20) }));
      const results = await Promise.all(
        attempts.map(({ key, writer }) => b.txn({ compare: [{ key, target: 'modRevision', op: '=', value: 0 }], success: [{ type: 'put', key, value: String(writer) }] })),
      );
      const wins = attempts.filter((_, i) => results[i].succeeded);
      assert.equal(wins.length, 20, 'one winner per key');
      assert.deepEqual(new Set(wins.map((w) => w.key)).size, 20);
      const stored = await b.range({ prefix: 'race/' });
      for (const w of wins) assert.equal(stored.kvs.find((kv) => kv.key === w.key)?.value, String(w.writer), `${w.key} holds its winner's value`);
      // Writes to distinct keys in one burst all land, in fewer revisions than writes.
      const before = await b.revision();
      const puts = await Promise.all(Array.from({ length: 50 }, (_, i) => b.txn({ compare: [], success: [{ type: 'put', key: `burst/${i}`, value: 'v' }] })));
      assert.ok(puts.every((r) => r.succeeded && r.revision > before));
      assert.equal((await b.range({ prefix: 'burst/' })).count, 50);
      const revisions = new Set(puts.map((r) => r.revision)).size;
      assert.ok(revisions < 50 && (await b.revision()) - before === revisions, `50 concurrent writes took ${revisions} revisions`);
      // A put with a revoked lease fails alone; the others in its batch still commit.
      const lease = await b.leaseGrant(30);
      await b.leaseRevoke(lease.id);
      const mixed = await Promise.allSettled([
        b.txn({ compare: [], success: [{ type: 'put', key: 'mixed/a', value: 'v' }] }),
        b.txn({ compare: [], success: [{ type: 'put', key: 'mixed/b', value: 'v', lease: lease.id }] }),
        b.txn({ compare: [], success: [{ type: 'put', key: 'mixed/c', value: 'v' }] }),
      ]);
      assert.deepEqual(mixed.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
      assert.ok(mixed[1].status === 'rejected' && isBerthError(mixed[1].reason, 'not_found'));
      assert.deepEqual((await b.range({ prefix: 'mixed/' })).kvs.map((kv) => kv.key), ['mixed/a', 'mixed/c']);
    } finally {
      await b.delete({ prefix: '' });
      await b.close();
    }
  });

  it('lets a view follow the writes another server makes through its own client', async () => {
    const mine = await EtcdBackend.open(etcd!.endpoints);
    const theirs = await EtcdBackend.open(etcd!.endpoints);
    const view = await StateView.open(mine);
    const theirView = await StateView.open(theirs);
    const store = new StateStore(theirs, theirView);
    try {
      const result = await store.commit([
        { table: 'jobs', id: 'web', value: job('web') },
        { table: 'allocs', id: 'a1', value: alloc('a1', 'web', 'n1') },
      ]);
      assert.ok(result.ok);
      assert.equal(await view.waitForIndex(result.index, 5000), true);
      assert.deepEqual([view.job('web')?.id, view.allocsByNode('n1').map((a) => a.id)], ['web', ['a1']]);
      const removed = await store.commit([{ table: 'allocs', id: 'a1', value: null }]);
      assert.ok(removed.ok);
      assert.equal(await view.waitForIndex(removed.index, 5000), true);
      assert.deepEqual(view.allocsByNode('n1'), []);
    } finally {
      await Promise.all([view.close(), theirView.close()]);
      await mine.delete({ prefix: '' });
      await Promise.all([mine.close(), theirs.close()]);
    }
  });
});

describe('etcd backend across an etcd restart', { skip }, () => {
  it('resumes a watch from the next revision without losing or repeating one', async () => {
    const cluster = await startEtcd({ own: true });
    const b = await EtcdBackend.open(cluster.endpoints, { callTimeoutMs: 1000 });
    try {
      const seen: WatchBatch[] = [];
      const errors: Error[] = [];
      await b.watch({ prefix: 'r/' }, (batch) => seen.push(batch), { onError: (err) => errors.push(err) });
      const before = await putMany(b, 'r/before/', 3);
      await cluster.killMember(0);
      await cluster.restartMember(0);
      await retryFor(5000, () => b.put('r/after/first', 'x'));
      const last = await putMany(b, 'r/after/', 3);
      const deadline = Date.now() + 10_000;
      while (seen.at(-1)?.revision !== last && Date.now() < deadline) await sleep(20);
      assert.deepEqual(errors, []);
      // A put that timed out may have been applied as well as its retry: compare distinct keys.
      const keys = [...new Set(seen.map((x) => x.events[0].kv.key))];
      assert.deepEqual(keys, ['r/before/0', 'r/before/1', 'r/before/2', 'r/after/first', 'r/after/0', 'r/after/1', 'r/after/2']);
      assert.equal(seen[2].revision, before);
    } finally {
      await b.close();
      await cluster.stop();
    }
  });
});

describe('etcd backend with etcd down', { skip }, () => {
  it('ends a watch with unavailable once etcd stays away, so the view can re-list', async () => {
    const cluster = await startEtcd({ own: true });
    const b = await EtcdBackend.open(cluster.endpoints, { callTimeoutMs: 1000 });
    try {
      const errors: Error[] = [];
      await b.watch({ prefix: '' }, () => {}, { onError: (err) => errors.push(err) });
      await cluster.killMember(0);
      const deadline = Date.now() + 10_000;
      while (errors.length === 0 && Date.now() < deadline) await sleep(50);
      assert.equal(errors.length, 1);
      assert.ok(isBerthError(errors[0], 'unavailable'), String(errors[0]));
      await assert.rejects(b.put('k', 'v'), (err) => isBerthError(err, 'unavailable'));
    } finally {
      await b.close();
      await cluster.stop();
    }
  });
});

describe('etcd backend on a three-member cluster', { skip }, () => {
  it('keeps serving writes, reads and watches when a member dies, the leader included', async () => {
    const cluster = await startEtcd({ members: 3 });
    // A short call deadline: a write caught in a leader election fails fast and is tried again.
    const b = await EtcdBackend.open(cluster.endpoints, { callTimeoutMs: 1000 });
    try {
      const seen: WatchBatch[] = [];
      const errors: Error[] = [];
      await b.watch({ prefix: 'ha/' }, (batch) => seen.push(batch), { onError: (err) => errors.push(err) });
      await putMany(b, 'ha/before/', 5);

      const leader = await cluster.leader();
      const follower = (leader + 1) % 3;
      await cluster.killMember(follower);
      // A write sent over the dead member's connection before the client saw it close fails with
      // unavailable (it may or may not have been applied, as with etcd's Go client); then every
      // call succeeds on the two members left.
      await retryFor(5000, () => b.put('ha/follower/first', 'x'));
      await putMany(b, 'ha/follower/', 10);
      assert.equal((await b.range({ prefix: 'ha/follower/' })).count, 11);

      await cluster.restartMember(follower);
      await cluster.killMember(await cluster.leader());
      // Until a new leader is elected (an election timeout, 0.5 s here) a write may fail.
      const first = await retryFor(5000, () => b.put('ha/leader/first', 'x'));
      const last = await putMany(b, 'ha/leader/', 10);
      assert.ok(last > first);
      assert.equal((await b.range({ prefix: 'ha/leader/' })).count, 11);
      assert.equal(await b.revision(), last);

      const deadline = Date.now() + 10_000;
      while (seen.at(-1)?.revision !== last && Date.now() < deadline) await sleep(20);
      assert.deepEqual(errors, []);
      // Every write seen once, in revision order (a timed-out put may also have been applied).
      const revisions = seen.map((x) => x.revision);
      assert.deepEqual(revisions, [...new Set(revisions)].sort((x, y) => x - y));
      assert.equal(new Set(seen.map((x) => x.events[0].kv.key)).size, 27);
    } finally {
      await b.close();
      await cluster.stop();
    }
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryBackend } from '../state/index.ts';
import { FakeClock } from '../testing/index.ts';
import { KvService, type SessionHealth } from './index.ts';

describe('session reaper', () => {
  it('ends a session when its TTL lapses unrenewed, its node goes down or a bound check turns critical', async (t) => {
    const clock = new FakeClock(1_000_000);
    const kv = await KvService.open(new MemoryBackend(), { node: 'n1', clock });
    t.after(() => kv.close());
    const down = new Set<string>();
    const critical = new Set<string>();
    const health: SessionHealth = { nodeDown: (n) => down.has(n), checkCritical: (c) => critical.has(c) };
    const ttl = (await kv.sessions.create({ TTL: '10s', LockDelay: '0s' })).ID;
    const onNode = (await kv.sessions.create({ Node: 'n2' })).ID;
    const bound = (await kv.sessions.create({ ServiceChecks: [{ ID: 'service:web' }] })).ID;
    assert.equal((await kv.put('lock', 'v', { acquire: ttl })).ok, true);
    clock.advance(9_000);
    kv.sessions.renew(ttl);
    clock.advance(9_000);
    assert.deepEqual(await kv.sessions.reap(health), [], 'a renewed session lives on');
    clock.advance(1_500);
    assert.deepEqual(await kv.sessions.reap(health), [ttl], 'a session unrenewed past its TTL ends');
    assert.equal(kv.store.get('lock')?.Session, undefined, 'and its lock is released');
    down.add('n2');
    assert.deepEqual(await kv.sessions.reap(health), [onNode]);
    critical.add('service:web');
    assert.deepEqual(await kv.sessions.reap(health), [bound]);
    assert.equal(kv.sessions.list().length, 0);
  });
});

describe('session leftovers', () => {
  it('forgets the lock-delays and renewal times of ended sessions once they run out', async (t) => {
    const clock = new FakeClock(1_000_000);
    const backend = new MemoryBackend();
    const kv = await KvService.open(backend, { node: 'n1', clock });
    const other = await KvService.open(backend, { node: 'n1', clock });
    t.after(() => Promise.all([kv.close(), other.close()]));
    const health: SessionHealth = { nodeDown: () => false, checkCritical: () => false };
    for (let i = 0; i < 50; i++) {
      const id = (await kv.sessions.create({ TTL: '10s', LockDelay: '1s' })).ID;
      assert.equal((await kv.put(`locks/${i}`, 'v', { acquire: id })).ok, true);
    }
    clock.advance(11_000);
    assert.equal((await kv.sessions.reap(health)).length, 50);
    assert.deepEqual(kv.sessions.remembered, { renewals: 0, lockDelays: 50 }, 'the keys are in lock-delay');
    clock.advance(1_000);
    await kv.sessions.reap(health);
    assert.deepEqual(kv.sessions.remembered, { renewals: 0, lockDelays: 0 }, 'lock-delays that ran out are forgotten');

    // Ended by another server (the leader before this one): its renewal time goes too.
    const id = (await kv.sessions.create({ LockDelay: '0s' })).ID;
    await other.sessions.destroy(id);
    const deadline = Date.now() + 2_000;
    while (kv.store.sessions.has(id) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    await kv.sessions.reap(health);
    assert.deepEqual(kv.sessions.remembered, { renewals: 0, lockDelays: 0 });
  });
});

describe('KV mirror', () => {
  it('catches up after its watch is lost: writes made meanwhile are seen and blocked readers wake', async (t) => {
    const backend = new MemoryBackend();
    const kv = await KvService.open(backend, { node: 'n1' });
    t.after(() => kv.close());
    await kv.put('a', 'MQ==', {});
    const index = kv.store.index('a', false);
    const woke = kv.store.waitFor({ key: 'a', prefix: false, min: index, waitMs: 10_000 });
    // Compact past the mirror's position while it is not looking: its watch fails, it reloads.
    (kv.store as unknown as { watcher: { cancel(): void } }).watcher.cancel();
    await backend.put('/berth/kv/d/a', JSON.stringify({ v: 'Mg==', f: 0, l: 0 }));
    await backend.put('/berth/kv/d/b', JSON.stringify({ v: null, f: 0, l: 0 }));
    backend.compact(await backend.revision());
    void (kv.store as unknown as { load(): Promise<void> }).load();
    await woke;
    assert.equal(kv.store.get('a')?.Value, 'Mg==');
    assert.ok(kv.store.get('b'));
  });
});

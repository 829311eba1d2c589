import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { MemoryBackend, type KeySelector, type WatchBatch, type WatchCallback, type WatchOptions, type Watcher } from '../state/index.ts';
import { KvService } from './index.ts';

/** A memory backend whose watches deliver nothing while `held`: a mirror that lags, as on a busy etcd. */
class LaggingBackend extends MemoryBackend {
  held = false;
  private readonly parked: (() => void)[] = [];

  override watch(selector: KeySelector, callback: WatchCallback, options: WatchOptions = {}): Promise<Watcher> {
    return super.watch(
      selector,
      (batch: WatchBatch) => {
        if (this.held || this.parked.length > 0) this.parked.push(() => callback(batch));
        else callback(batch);
      },
      options,
    );
  }

  release(): void {
    this.held = false;
    for (const deliver of this.parked.splice(0)) deliver();
  }
}

describe('KV writes answered before the mirror applies them', () => {
  it('a PUT resolves at its revision while the watch lags, and the writer still reads its own writes', async (t) => {
    const backend = new LaggingBackend();
    const kv = await KvService.open(backend, { node: 'n1' });
    t.after(() => kv.close());
    backend.held = true;
    const put = await kv.put('a', 'MQ==', {});
    assert.equal(put.ok, true, 'the PUT is answered with the watch held');
    assert.equal(kv.store.get('a'), undefined, 'the mirror has not applied it yet');

    let read = false;
    const settled = kv.store.settled('a', false).then(() => (read = true));
    const other = await Promise.race([kv.store.settled('b', false).then(() => 'b'), sleep(50).then(() => 'timeout')]);
    assert.equal(other, 'b', 'a read of a key this server did not write does not wait');
    const prefixRead = kv.store.settled('', true);
    // A cas on the key just written is built against it, not against the stale mirror.
    let casDone = false;
    const cas = kv.put('a', 'Mg==', { cas: put.index }).finally(() => (casDone = true));
    await sleep(50);
    assert.equal(read, false, 'a read of the written key waits for the mirror');
    assert.equal(casDone, false, 'so does a write that reads it');
    backend.release();
    await settled;
    await prefixRead;
    assert.equal((await cas).ok, true, 'the cas with the index the PUT answered succeeds');
    await kv.store.settled('a', false);
    assert.equal(kv.store.get('a')?.Value, 'Mg==');
  });

  it('a delete right after a PUT deletes the key the mirror has not seen yet', async (t) => {
    const backend = new LaggingBackend();
    const kv = await KvService.open(backend, { node: 'n1' });
    t.after(() => kv.close());
    backend.held = true;
    await kv.put('dir/x', 'MQ==', {});
    const deleting = kv.delete('dir/', { recurse: true });
    await sleep(20);
    backend.release();
    assert.equal((await deleting).ok, true);
    await kv.store.settled('dir/', true);
    assert.equal(kv.store.list('dir/').length, 0, 'the recursive delete saw the key written before it');
  });

  it('a write that lost a race to another server rebuilds on what its txn read back, without waiting for its mirror', async (t) => {
    const backend = new LaggingBackend();
    const other = await KvService.open(backend, { node: 'n1' });
    const lagging = await KvService.open(backend, { node: 'n2' });
    t.after(() => {
      other.close();
      lagging.close();
    });
    await lagging.put('lock', 'MA==', {});
    await lagging.store.settled('lock', false);
    const session = await other.sessions.create({ Name: 'holder' });
    backend.held = true;
    assert.equal((await other.put('lock', 'MQ==', { acquire: session.ID })).ok, true);
    // The lagging server has not seen the lock; its plain PUT must keep it all the same.
    const put = await Promise.race([lagging.put('lock', 'Mg==', {}), sleep(2000).then(() => 'waited')]);
    assert.notEqual(put, 'waited', 'answered while its mirror still lags');
    backend.release();
    await lagging.store.settled('lock', false);
    await sleep(10);
    const entry = lagging.store.get('lock');
    assert.deepEqual([entry?.Value, entry?.Session, entry?.LockIndex], ['Mg==', session.ID, 1], 'the value changed and the lock held');
  });
});

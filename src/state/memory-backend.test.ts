import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CompactedError } from './backend.ts';
import { FakeClock } from '../testing/index.ts';
import { stateBackendContract } from './contract.test-suite.ts';
import { MemoryBackend } from './memory-backend.ts';

stateBackendContract('memory', async () => {
  const clock = new FakeClock();
  const backend = new MemoryBackend({ clock });
  return {
    backend,
    cleanup: () => backend.close(),
    advanceTime: async (ms) => clock.advance(ms),
  };
});

describe('memory backend', () => {
  it('expires a lease on the injected clock without real waiting', async () => {
    const clock = new FakeClock();
    const backend = new MemoryBackend({ clock });
    const lease = await backend.leaseGrant(30);
    await backend.put('k', 'v', { lease: lease.id });
    clock.advance(29_999);
    assert.equal((await backend.range({ key: 'k' })).count, 1);
    clock.advance(1);
    assert.equal((await backend.range({ key: 'k' })).count, 0);
    await backend.close();
  });

  it('refuses calls after close with unavailable', async () => {
    const backend = new MemoryBackend();
    await backend.close();
    await assert.rejects(backend.put('k', 'v'), /Cannot write: the memory state backend is closed/);
  });
});

describe('memory backend auto-compaction', () => {
  it('keeps at least retainRevisions of history and compacts what is older', async () => {
    const backend = new MemoryBackend({ retainRevisions: 10 });
    for (let i = 0; i < 40; i++) await backend.put('k', String(i));
    const latest = await backend.revision();
    assert.equal((await backend.range({ key: 'k' }, { revision: latest - 10 })).kvs[0].value, String(40 - 11));
    await assert.rejects(backend.range({ key: 'k' }, { revision: 2 }), CompactedError);
    await backend.close();
  });
});

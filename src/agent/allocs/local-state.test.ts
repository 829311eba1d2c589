import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { Allocation, Job } from '../../model/index.ts';
import type { TaskHandle } from '../../drivers/index.ts';
import { LocalState, type AllocRecord } from './local-state.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-local-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function record(id: string, handleId = 'c1'): AllocRecord {
  const handle: TaskHandle = { driver: 'docker', allocId: id, taskName: 'web', id: handleId, startedAt: 1, state: { name: 'x' } };
  return {
    alloc: { id } as Allocation,
    job: { id: 'web', version: 1 } as Job,
    handles: { web: handle },
    taskStates: { web: { state: 'running', failed: false, restarts: 0, events: [] } },
  };
}

describe('LocalState', () => {
  it('keeps records across a reopen, the last save winning, and forgets removed ones', async () => {
    const dir = path.join(tmp, 'a');
    const s = new LocalState(dir);
    await s.open();
    await s.save(record('a1', 'old'));
    await s.save(record('a1', 'new'));
    await s.save(record('a2'));
    await s.remove('a2');
    s.close();
    const again = new LocalState(dir);
    await again.open();
    const loaded = await again.load(() => undefined);
    assert.equal(loaded.length, 1);
    assert.equal(loaded[0].handles.web.id, 'new');
    assert.equal(loaded[0].taskStates.web.state, 'running');
    again.close();
  });

  it('has a saved record on disk when the process is killed right after the save returns', async () => {
    const dir = path.join(tmp, 'b');
    // A child saves, then SIGKILLs itself: no close, no flush, no exit handlers.
    const script = `
      import { LocalState } from ${JSON.stringify(path.resolve(import.meta.dirname, 'local-state.ts'))};
      const s = new LocalState(${JSON.stringify(dir)});
      await s.open();
      await s.save(${JSON.stringify(record('k1', 'killed'))});
      process.kill(process.pid, 'SIGKILL');
    `;
    const res = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(res.signal, 'SIGKILL', res.stderr);
    const s = new LocalState(dir);
    await s.open();
    const loaded = await s.load(() => undefined);
    assert.deepEqual(loaded.map((r) => r.handles.web.id), ['killed']);
    s.close();
  });

  it('takes over the JSON records of an older agent once', async () => {
    const dir = path.join(tmp, 'c');
    fs.mkdirSync(path.join(dir, 'allocs'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'allocs', 'j1.json'), JSON.stringify(record('j1')));
    fs.writeFileSync(path.join(dir, 'allocs', 'torn.json'), '{"alloc":');
    const s = new LocalState(dir);
    await s.open();
    assert.deepEqual((await s.load(() => undefined)).map((r) => r.alloc.id), ['j1']);
    assert.equal(fs.existsSync(path.join(dir, 'allocs')), false);
    s.close();
  });
});

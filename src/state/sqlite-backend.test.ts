import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isBerthError } from '../model/index.ts';
import { FakeClock } from '../testing/index.ts';
import { stateBackendContract } from './contract.test-suite.ts';
import { SqliteBackend } from './sqlite-backend.ts';

const dir = mkdtempSync(join(tmpdir(), 'berth-sqlite-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const newPath = () => join(dir, `state-${++files}`, 'berth.db');

stateBackendContract('sqlite', async () => {
  const clock = new FakeClock();
  const backend = await SqliteBackend.open(newPath(), { clock });
  return {
    backend,
    cleanup: () => backend.close(),
    advanceTime: async (ms) => clock.advance(ms),
  };
});

describe('sqlite backend', () => {
  it('keeps keys, history, leases and the revision across close and reopen', async () => {
    const path = newPath();
    const first = await SqliteBackend.open(path);
    const r1 = await first.put('a', '1');
    await first.put('a', '2');
    const lease = await first.leaseGrant(600);
    const r3 = await first.put('s', 'x', { lease: lease.id });
    await first.close();

    const second = await SqliteBackend.open(path);
    assert.equal(await second.revision(), r3);
    assert.deepEqual((await second.range({ prefix: '' })).kvs.map((kv) => [kv.key, kv.value, kv.version]), [['a', '2', 2], ['s', 'x', 1]]);
    assert.deepEqual((await second.range({ key: 'a' }, { revision: r1 })).kvs.map((kv) => kv.value), ['1']);
    assert.equal(await second.put('b', '1'), r3 + 1);
    const batches: number[] = [];
    await second.watch({ prefix: '' }, (b) => batches.push(b.revision), { fromRevision: r1 });
    await second.leaseRevoke(lease.id);
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.deepEqual(batches, [r1, r1 + 1, r3, r3 + 1, r3 + 2]);
    const next = await second.leaseGrant(60);
    assert.notEqual(next.id, lease.id);
    await second.close();
  });

  it('expires on open the leases that ran out while it was closed', async () => {
    const path = newPath();
    const clock = new FakeClock();
    const first = await SqliteBackend.open(path, { clock });
    const lease = await first.leaseGrant(10);
    await first.put('s', 'x', { lease: lease.id });
    await first.put('t', 'y');
    await first.close();
    clock.advance(11_000);
    const second = await SqliteBackend.open(path, { clock });
    assert.deepEqual((await second.range({ prefix: '' })).kvs.map((kv) => kv.key), ['t']);
    await assert.rejects(second.leaseKeepAlive(lease.id), (err) => isBerthError(err, 'not_found'));
    await second.close();
  });

  it('keeps every committed txn when the process is killed without closing', async () => {
    const path = newPath();
    const script = join(dir, 'crash-writer.mts');
    const backendUrl = new URL('./sqlite-backend.ts', import.meta.url).href;
    writeFileSync(
      script,
      `import { SqliteBackend } from ${JSON.stringify(backendUrl)};
       const b = await SqliteBackend.open(${JSON.stringify(path)});
       for (let i = 0; i < 500; i++) {
         await b.txn({ compare: [], success: [{ type: 'put', key: 'n/' + (i % 50), value: String(i) }, { type: 'put', key: 'last', value: String(i) }] });
       }
       process.stdout.write('done\\n');
       setInterval(() => {}, 1000);`,
    );
    const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: fileURLToPath(new URL('../..', import.meta.url)), stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => d.toString().includes('done') && resolve());
      child.on('exit', (code) => reject(new Error(`writer exited early with ${code}`)));
    });
    child.removeAllListeners('exit');
    const exited = new Promise((resolve) => child.on('exit', resolve));
    child.kill('SIGKILL');
    await exited;

    const b = await SqliteBackend.open(path);
    assert.equal(await b.revision(), 501);
    assert.equal((await b.range({ key: 'last' })).kvs[0].value, '499');
    assert.equal((await b.range({ prefix: 'n/' })).count, 50);
    assert.equal((await b.range({ key: 'n/49' })).kvs[0].version, 10);
    await b.close();
  });

  it('refuses a second open of the same file while the first holds it', async () => {
    const path = newPath();
    const first = await SqliteBackend.open(path);
    await assert.rejects(SqliteBackend.open(path), (err) => isBerthError(err, 'unavailable') && err.message.startsWith(`Cannot open state at ${path}: it is already open`));
    await first.close();
    const again = await SqliteBackend.open(path);
    await again.close();
  });

  it('says which file it cannot open and why', async () => {
    const path = join(dir, 'not-a-db');
    writeFileSync(path, 'this is not a database, just some text that is long enough to have a header'.repeat(20));
    await assert.rejects(SqliteBackend.open(path), (err) => isBerthError(err, 'unavailable') && /^Cannot open state at .*not-a-db: file is not a database/.test(err.message));
  });
});

describe('sqlite backend history', () => {
  it('keeps the file from growing under churn once its history window is full', async () => {
    const path = newPath();
    const backend = await SqliteBackend.open(path, { retainRevisions: 200 });
    const size = (): number => ['', '-wal'].reduce((sum, ext) => sum + (existsSync(path + ext) ? statSync(path + ext).size : 0), 0);
    // Rows of a few KiB rewritten over and over, as allocations are under churn.
    const churn = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++) await backend.put(`/berth/allocs/${i % 50}`, 'x'.repeat(4000) + i);
    };
    await churn(1000);
    const warm = size();
    await churn(3000);
    assert.ok(size() <= warm * 1.1, `the file grew from ${warm} to ${size()} bytes`);
    const latest = await backend.revision();
    // At least the window is kept, and nothing much older.
    assert.equal((await backend.range({ key: '/berth/allocs/0' }, { revision: latest - 200 })).revision, latest);
    await assert.rejects(backend.range({ key: '/berth/allocs/0' }, { revision: latest - 221 }), /compacted/);
    await backend.close();
  });
});

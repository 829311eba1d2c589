import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { isSqliteExperimentalWarning, openDatabase, transaction, withoutWarning, type DatabaseSync } from './sqlite.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'berth-lib-sqlite-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function table(): DatabaseSync {
  const db = openDatabase(':memory:');
  db.exec('CREATE TABLE t (x INTEGER PRIMARY KEY)');
  return db;
}
const rows = (db: DatabaseSync): number[] => db.prepare('SELECT x FROM t ORDER BY x').all().map((r) => Number(r.x));

describe('transaction', () => {
  it('commits what the function wrote when it returns, and returns its value', () => {
    const db = table();
    const run = transaction(db);
    assert.equal(run(() => (db.exec('INSERT INTO t VALUES (1), (2)'), 'done')), 'done');
    assert.equal(db.isTransaction, false);
    assert.deepEqual(rows(db), [1, 2]);
  });

  it('rolls back every write when the function throws, and rethrows', () => {
    const db = table();
    const run = transaction(db);
    assert.throws(() => run(() => {
      db.exec('INSERT INTO t VALUES (1)');
      throw new Error('boom');
    }), /boom/);
    assert.equal(db.isTransaction, false);
    assert.deepEqual(rows(db), []);
  });

  it('undoes only the inner writes when a nested call throws', () => {
    const db = table();
    const run = transaction(db);
    run(() => {
      db.exec('INSERT INTO t VALUES (1)');
      assert.throws(() => run(() => {
        db.exec('INSERT INTO t VALUES (2)');
        throw new Error('inner');
      }));
      run(() => db.exec('INSERT INTO t VALUES (3)'));
    });
    assert.deepEqual(rows(db), [1, 3]);
  });
});

describe('the SQLite ExperimentalWarning', () => {
  it('is recognised in each form process.emitWarning takes, and nothing else is', () => {
    const text = 'SQLite is an experimental feature and might change at any time';
    assert.ok(isSqliteExperimentalWarning(text, 'ExperimentalWarning'));
    assert.ok(isSqliteExperimentalWarning(text, { type: 'ExperimentalWarning' }));
    assert.ok(isSqliteExperimentalWarning(Object.assign(new Error(text), { name: 'ExperimentalWarning' }), undefined));
    assert.ok(!isSqliteExperimentalWarning(text, 'DeprecationWarning'));
    assert.ok(!isSqliteExperimentalWarning('VM Modules is an experimental feature', 'ExperimentalWarning'));
  });

  it('is dropped while the module loads, and other warnings still reach the user', async () => {
    const seen: string[] = [];
    // Node's own listener would print these test warnings: set it aside meanwhile.
    const others = process.listeners('warning');
    process.removeAllListeners('warning');
    const onWarning = (w: Error): void => void seen.push(w.message);
    process.on('warning', onWarning);
    try {
      withoutWarning(isSqliteExperimentalWarning, () => {
        process.emitWarning('SQLite is an experimental feature and might change at any time', 'ExperimentalWarning');
        process.emitWarning('something else', 'ExperimentalWarning');
      });
      process.emitWarning('SQLite is an experimental feature and might change at any time', 'ExperimentalWarning');
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('warning', onWarning);
      for (const l of others) process.on('warning', l);
    }
    // The filter covers the load only: the same warning afterwards is emitted as usual.
    assert.deepEqual(seen, ['something else', 'SQLite is an experimental feature and might change at any time']);
  });

  it('a process that opens a database prints nothing on stderr', () => {
    const file = path.join(dir, 'quiet.db');
    const script = `import { openDatabase } from ${JSON.stringify(path.join(import.meta.dirname, 'sqlite.ts'))};
      openDatabase(${JSON.stringify(file)}).exec('CREATE TABLE t (x)');`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
  });
});

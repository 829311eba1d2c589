import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { MemoryBackend } from '../../src/state/index.ts';
import { Server } from '../../src/server/index.ts';
import { silentLogger } from '../../src/lib/index.ts';
import { berth, eventually } from '../harness/berth.ts';

const root = path.resolve(import.meta.dirname, '../..');

async function serve(t: TestContext): Promise<string> {
  const server = await Server.start({ backend: new MemoryBackend(), logger: silentLogger(), port: 0 });
  t.after(() => server.stop());
  return server.url;
}

describe('berth kv and berth lock', () => {
  it('kv put, get, list, export, import and delete round-trip through the CLI', async (t) => {
    const addr = await serve(t);
    assert.equal((await berth(['kv', 'put', 'cfg/db/host', 'db1'], { addr })).code, 0);
    await berth(['kv', 'put', 'cfg/db/port', '5432', '--flags', '7'], { addr });
    await berth(['kv', 'put', 'cfg/name', 'web'], { addr });
    assert.equal((await berth(['kv', 'get', 'cfg/db/host'], { addr })).stdout, 'db1\n');
    assert.equal((await berth(['kv', 'list', 'cfg/', '--separator', '/'], { addr })).stdout, 'cfg/db/\ncfg/name\n');
    const cas = await berth(['kv', 'put', 'cfg/name', 'x', '--cas', '--modify-index', '0'], { addr });
    assert.equal(cas.code, 1, 'cas 0 on an existing key fails');
    const exported = (await berth(['kv', 'export', 'cfg/'], { addr })).stdout;
    assert.equal((await berth(['kv', 'delete', 'cfg/', '--recurse'], { addr })).code, 0);
    const missing = await berth(['kv', 'get', 'cfg/db/host'], { addr });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no such key/);
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'berth-kv-')), 'export.json');
    fs.writeFileSync(file, exported);
    assert.equal((await berth(['kv', 'import', file], { addr })).stdout, 'Imported 3 keys\n');
    const detailed = (await berth(['kv', 'get', 'cfg/db/port', '--detailed'], { addr })).stdout;
    assert.match(detailed, /Flags\s+7/);
    assert.match(detailed, /Value\s+5432/);
  });

  it('three `berth lock` processes elect one leader; when it is killed another takes over after TTL and lock-delay', async (t) => {
    const addr = await serve(t);
    const log = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'berth-lock-')), 'leaders');
    fs.writeFileSync(log, '');
    const procs: ChildProcess[] = [];
    t.after(() => {
      for (const p of procs) {
        try {
          process.kill(-p.pid!, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
    });
    for (let i = 0; i < 3; i++) {
      const p = spawn(process.execPath, [path.join(root, 'bin/berth.js'), 'lock', '--ttl', '10s', '--lock-delay', '1s', 'svc/leader', '--', 'sh', '-c', `echo ${i} >> ${log}; exec sleep 60`], {
        cwd: root,
        env: { ...process.env, BERTH_ADDR: addr },
        stdio: 'ignore',
        detached: true,
      });
      procs.push(p);
    }
    const leaders = (): string[] => fs.readFileSync(log, 'utf8').split('\n').filter(Boolean);
    await eventually('a leader', async () => leaders().length === 1);
    await sleep(1000);
    assert.equal(leaders().length, 1, 'only one process holds the lock');
    const first = Number(leaders()[0]);
    const killedAt = Date.now();
    process.kill(-procs[first].pid!, 'SIGKILL');
    await eventually('a new leader', async () => leaders().length === 2, 30_000);
    const took = Date.now() - killedAt;
    assert.notEqual(Number(leaders()[1]), first);
    // The dead leader last renewed (every TTL/2 = 5 s) at most 5 s before the kill: its session
    // lapses 5-10 s after the kill, then the 1 s lock-delay holds the key.
    assert.ok(took >= 6_000, `took over after ${took} ms: before the dead leader's 10s TTL and 1s lock-delay could lapse`);
    assert.ok(took <= 13_000, `took over after ${took} ms: long after the dead leader's TTL and lock-delay lapsed`);
    await sleep(500);
    assert.equal(leaders().length, 2, 'exactly one new leader');
  });
});

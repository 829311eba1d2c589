/**
 * What a real `berth agent` process loads: the agent layer and what it may import (api, drivers,
 * discovery/checks), not the server, its state backends (etcd3, the SQLite state) or the catalog.
 * better-sqlite3 is loaded for the agent's own recovery file (agent/allocs/local-state.ts) and for
 * nothing else.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startAgent, startServer, type BerthProcess } from '../harness/cluster.ts';

const root = path.resolve(import.meta.dirname, '../..');
const recorder = path.join(root, 'test/harness/record-modules.js');

interface ModuleList {
  esm: { url: string; parent: string | null }[];
  cjs: string[];
}

/**
 * Every file loaded: sources relative to the repository (`src/agent/index.ts`), packages from
 * their node_modules folder on (`node_modules/etcd3/lib/index.js`), wherever node_modules really is.
 */
function loaded(list: ModuleList): string[] {
  const files = [...list.esm.map((m) => m.url), ...list.cjs].map((u) => (u.startsWith('file:') ? new URL(u).pathname : u));
  return [...new Set(files.map(shortName))];
}

function shortName(file: string): string {
  const at = file.lastIndexOf('/node_modules/');
  return at >= 0 ? file.slice(at + 1) : path.relative(root, file);
}

describe('a berth agent process', () => {
  let tmp: string;
  let server: BerthProcess & { addr: string };
  let list: ModuleList;

  before(async () => {
    tmp = await mkdtemp(path.join(tmpdir(), 'berth-agent-modules-'));
    server = await startServer(path.join(tmp, 'server'));
    const out = path.join(tmp, 'modules.json');
    const env = { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${recorder}`.trim(), BERTH_MODULE_LIST: out };
    const agent = await startAgent({ servers: [server.addr], dataDir: path.join(tmp, 'agent'), nodeName: 'modules', driver: 'process', env });
    await agent.stop();
    list = JSON.parse(readFileSync(out, 'utf8')) as ModuleList;
  });
  after(async () => {
    await server?.stop();
    await rm(tmp, { recursive: true, force: true });
  });

  it('loads the agent layer and what it may use (the list is real)', () => {
    const files = loaded(list);
    for (const f of ['src/agent/index.ts', 'src/drivers/index.ts', 'src/discovery/checks/index.ts', 'src/api/index.ts']) assert.ok(files.includes(f), `${f} loaded`);
    assert.ok(files.some((f) => f.startsWith('node_modules/dockerode/')), 'the docker driver client loaded');
  });

  it('loads neither the server, the state backends, the catalog, DNS, KV nor the scheduler', () => {
    const forbidden = ['src/server/', 'src/state/', 'src/discovery/catalog/', 'src/discovery/dns/', 'src/kv/', 'src/scheduler/', 'node_modules/etcd3/'];
    const files = loaded(list);
    for (const prefix of forbidden) assert.deepEqual(files.filter((f) => f.startsWith(prefix)), [], `nothing under ${prefix}`);
  });

  it('loads better-sqlite3 only for its own recovery file', () => {
    const importers = list.esm.filter((m) => m.url.includes('/node_modules/better-sqlite3/')).map((m) => shortName(new URL(m.parent!).pathname));
    assert.deepEqual([...new Set(importers)], ['src/agent/allocs/local-state.ts']);
  });
});

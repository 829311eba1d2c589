/**
 * What a real `berth agent` process (the build, as installed) loads: the agent layer and what it
 * may import (api, drivers, discovery/checks), not the server, its state backends (etcd3, the
 * SQLite state), the catalog, DNS, KV or the scheduler. node:sqlite is loaded for the agent's own
 * recovery file (agent/allocs/local-state.ts, through lib/sqlite.ts), which is why SQLite itself is
 * not on the forbidden list: the SQLite *state backend* (src/state/) is.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { startAgent, startServer, type BerthProcess } from '../harness/cluster.ts';

const root = path.resolve(import.meta.dirname, '../..');
const hook = pathToFileURL(path.join(root, 'test/fixtures/record-modules.js')).href;

/**
 * What the loaded files hold: the source modules and packages bundled into each dist/ chunk
 * (esbuild heads each with a `// src/agent/agent.ts` or `// node_modules/<pkg>/...` line), and
 * the packages loaded from node_modules, as `node_modules/<pkg>/...`.
 */
async function contents(urls: string[]): Promise<string[]> {
  const out = new Set<string>();
  for (const url of urls.filter((u) => u.startsWith('file:'))) {
    const file = fileURLToPath(url);
    const at = file.lastIndexOf('/node_modules/');
    if (at >= 0) out.add(file.slice(at + 1));
    else if (file.includes(`${path.sep}dist${path.sep}`)) for (const m of (await readFile(file, 'utf8')).matchAll(/^\/\/ ((?:src|node_modules)\/\S+)$/gm)) out.add(m[1]);
  }
  return [...out].sort();
}

describe('a berth agent process', () => {
  let tmp: string;
  let server: (BerthProcess & { addr: string }) | undefined;
  let loaded: string[];
  let urls: string[];

  before(async () => {
    tmp = await mkdtemp(path.join(tmpdir(), 'berth-agent-modules-'));
    server = await startServer(path.join(tmp, 'server'));
    const out = path.join(tmp, 'modules.json');
    const env = { NODE_OPTIONS: `--import=${hook}`, BERTH_TEST_MODULES_OUT: out };
    const agent = await startAgent({ servers: [server.addr], dataDir: path.join(tmp, 'agent'), nodeName: 'modules', driver: 'process', env });
    await agent.stop();
    urls = JSON.parse(await readFile(out, 'utf8')) as string[];
    loaded = await contents(urls);
  });
  after(async () => {
    await server?.stop();
    await rm(tmp, { recursive: true, force: true });
  });

  it('loads the agent layer and what it may use (the list sees what it looks for)', () => {
    for (const f of ['src/agent/agent.ts', 'src/agent/allocs/local-state.ts', 'src/discovery/checks/runner.ts', 'src/api/client.ts']) assert.ok(loaded.includes(f), `${f} loaded`);
    assert.ok(loaded.includes('src/lib/sqlite.ts') && urls.includes('node:sqlite'), 'node:sqlite loaded, for the local state');
  });

  it('loads neither the server, the state backends, the catalog, DNS, KV nor the scheduler', () => {
    const forbidden = ['src/server/', 'src/state/', 'src/discovery/catalog/', 'src/discovery/dns/', 'src/kv/', 'src/scheduler/', 'node_modules/etcd3/'];
    for (const prefix of forbidden) assert.deepEqual(loaded.filter((f) => f.startsWith(prefix)), [], `nothing under ${prefix}`);
  });
});

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { openDatabase } from '../../src/lib/index.ts';
import { berth, eventually, freePorts, startDev, type DevProcess } from '../harness/berth.ts';

const root = path.resolve(import.meta.dirname, '../..');
const hook = pathToFileURL(path.join(root, 'test/fixtures/record-modules.js')).href;
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };

/** Packages (and the built-in SQLite) a client command has no use for, and that would cost it their start-up. */
const SERVER_ONLY = ['fastify', 'etcd3', 'node:sqlite', 'dockerode'];

/**
 * Which of `packages` the files a process loaded contain: loaded from node_modules, or bundled
 * into a dist/ chunk (esbuild heads each bundled module with a `// node_modules/<pkg>/...` line).
 * A `node:` name is a built-in module, found by its own URL.
 */
async function packagesIn(urls: string[], packages: string[]): Promise<string[]> {
  const found = new Set<string>(packages.filter((p) => p.startsWith('node:') && urls.includes(p)));
  for (const url of urls.filter((u) => u.startsWith('file:'))) {
    const file = fileURLToPath(url);
    const text = file.includes(`${path.sep}dist${path.sep}`) ? await readFile(file, 'utf8') : '';
    for (const p of packages) if (file.includes(`/node_modules/${p}/`) || text.includes(`// node_modules/${p}/`)) found.add(p);
  }
  return [...found].sort();
}

describe('the berth CLI as built', () => {
  let tmp = '';
  before(async () => void (tmp = await mkdtemp(path.join(tmpdir(), 'berth-start-up-'))));
  after(() => rm(tmp, { recursive: true, force: true }));

  it('runs on Node 24, and its SQLite (node:sqlite) opens a database there', () => {
    assert.equal(Number(process.versions.node.split('.')[0]), 24, `tests run on ${process.version} (${process.execPath}); npm scripts should put node_modules/.bin/node first`);
    assert.deepEqual({ ...openDatabase(':memory:').prepare('select 1 + 1 as two').get() }, { two: 2 });
  });

  it('berth version prints berth, Node and platform, and --json the same as an object', async () => {
    const text = await berth(['version']);
    assert.equal(text.code, 0, text.stderr);
    assert.equal(text.stdout, `berth v${pkg.version}\nnode v${process.versions.node}\nplatform ${process.platform}/${process.arch}\n`);
    const json = await berth(['version', '--json']);
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout), { version: pkg.version, node: process.versions.node, platform: process.platform, arch: process.arch });
    const flag = await berth(['--version']);
    assert.equal(flag.stdout.trim(), pkg.version);
  });

  describe('against a running berth dev', () => {
    let dev: DevProcess;
    before(async () => {
      const [port, dnsPort] = await freePorts(2);
      dev = await startDev({ driver: 'process', port, args: ['--dns-addr', `127.0.0.1:${dnsPort}`] });
      const spec = { id: 'sleeper', groups: [{ name: 'g', tasks: [{ name: 't', driver: 'process', config: { command: '/bin/sleep', args: ['300'] }, resources: { cpu: '10m', memory: '8Mi' } }] }] };
      const res = await fetch(`${dev.addr}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(spec) });
      assert.equal(res.status, 200, await res.text());
    });
    after(async () => {
      await fetch(`${dev.addr}/v1/jobs/sleeper?purge=true`, { method: 'DELETE' });
      await eventually('the job stopped', async () => {
        const allocs = (await (await fetch(`${dev.addr}/v1/allocations`)).json()) as { clientStatus: string }[];
        return allocs.every((a) => a.clientStatus !== 'running');
      });
      await dev.cleanup();
    });

    it('job status lists the jobs and loads none of fastify, etcd3, node:sqlite or dockerode', async () => {
      const out = path.join(tmp, 'status-modules.json');
      const r = await berth(['job', 'status'], { addr: dev.addr, env: { NODE_OPTIONS: `--import=${hook}`, BERTH_TEST_MODULES_OUT: out } });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^sleeper\s+service\s/m);
      const urls = JSON.parse(await readFile(out, 'utf8')) as string[];
      // The check itself must see what it looks for: berth dev, on the same build, loads them all.
      assert.ok(urls.some((u) => u.endsWith('/dist/main.js')), `the hook saw no dist/main.js: ${urls.join(' ')}`);
      assert.deepEqual(await packagesIn(urls, SERVER_ONLY), []);
    });

    it('the same check finds the server\'s packages in berth dev, and no etcd3 on SQLite', async () => {
      const out = path.join(tmp, 'dev-modules.json');
      const [port, dnsPort] = await freePorts(2);
      const probe = await startDev({ driver: 'process', port, args: ['--dns-addr', `127.0.0.1:${dnsPort}`], env: { NODE_OPTIONS: `--import=${hook}`, BERTH_TEST_MODULES_OUT: out } });
      // Its signal handlers are in place once it says it runs; a SIGTERM before would skip the exit hook.
      await eventually('berth dev says it runs', async () => probe.logs().includes('berth dev is running'));
      assert.equal(await probe.stop(), 0, probe.logs());
      await probe.cleanup();
      const urls = JSON.parse(await readFile(out, 'utf8')) as string[];
      assert.deepEqual(await packagesIn(urls, SERVER_ONLY), ['dockerode', 'fastify', 'node:sqlite']);
    });
  });
});

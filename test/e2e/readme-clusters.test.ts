import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { eventually } from '../harness/berth.ts';
import { ip, netnsProblem } from '../harness/netns.ts';

/**
 * The README's "A local multi-node cluster" and "A cluster on several hosts", run as written: each
 * line of their sh blocks, through a `berth` on PATH, a line ending in `&` as a daemon. Hosts are
 * network namespaces: the local cluster gets one of its own (its own 127.0.0.1:7460), the
 * multi-host one a server namespace at 10.0.0.1 and an agent namespace at 10.0.0.2 joined by a
 * veth pair, so the agent must find 10.0.0.2 by itself and the server reach it there for logs.
 */

const root = path.resolve(import.meta.dirname, '../..');
const tag = process.pid % 100000;


/** The lines of the first sh block under a README heading, comments included. */
async function readmeBlock(heading: string): Promise<string[]> {
  const text = await readFile(path.join(root, 'README.md'), 'utf8');
  const at = text.indexOf(`\n### ${heading}\n`);
  assert.ok(at >= 0, `README has no section "${heading}"`);
  const block = /```sh\n([\s\S]*?)```/.exec(text.slice(at));
  assert.ok(block, `README section "${heading}" has no sh block`);
  return block[1].split('\n').map((l) => l.trim()).filter(Boolean);
}

/** A network namespace with its loopback up; removed, with whatever still runs in it, by `remove`. */
function netns(name: string): { name: string; remove: () => void } {
  ip('netns', 'add', name);
  ip('netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up');
  return {
    name,
    remove: () => {
      // What the test started in there and left behind (tasks detach from a stopped agent).
      const pids = execFileSync('ip', ['netns', 'pids', name], { encoding: 'utf8' }).split('\n').filter(Boolean);
      for (const pid of pids) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // Gone already.
        }
      }
      ip('netns', 'del', name);
    },
  };
}

/** Runs README lines on one "host" (a namespace), from a work dir with `berth` on PATH. */
class Host {
  readonly daemons: { line: string; child: ChildProcess; output: () => string }[] = [];
  env: NodeJS.ProcessEnv;

  constructor(
    readonly ns: string,
    readonly cwd: string,
    env: NodeJS.ProcessEnv,
  ) {
    this.env = env;
  }

  /** A line as the README writes it: `export K=V` sets the environment, `... &` starts a daemon, others run to the end. */
  async line(line: string, env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
    const exported = /^export ([A-Z_]+)=(\S+)$/.exec(line);
    if (exported) {
      this.env = { ...this.env, [exported[1]]: exported[2] };
      return { code: 0, stdout: '', stderr: '' };
    }
    if (line.endsWith('&')) {
      this.daemon(line.slice(0, -1).trim(), env);
      return { code: 0, stdout: '', stderr: '' };
    }
    return this.run(line, env);
  }

  daemon(line: string, env: NodeJS.ProcessEnv = {}): void {
    const child = spawn('ip', ['netns', 'exec', this.ns, 'sh', '-c', `exec ${line}`], { cwd: this.cwd, env: { ...this.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (d: Buffer) => (output = (output + d).slice(-100_000)));
    child.stderr!.on('data', (d: Buffer) => (output = (output + d).slice(-100_000)));
    this.daemons.push({ line, child, output: () => output });
  }

  run(line: string, env: NodeJS.ProcessEnv = {}, timeoutMs = 120_000): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn('ip', ['netns', 'exec', this.ns, 'sh', '-c', line], { cwd: this.cwd, env: { ...this.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d));
      child.stderr.on('data', (d: Buffer) => (stderr += d));
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`"${line}" did not finish in ${timeoutMs} ms\n${stdout}\n${stderr}\n${this.logs()}`));
      }, timeoutMs);
      child.on('exit', (code) => {
        clearTimeout(timer);
        resolve({ code: code ?? 1, stdout, stderr });
      });
    });
  }

  /** Each daemon's line and its output so far, for failure messages. */
  logs(): string {
    return this.daemons.map((d) => `--- ${d.line} (exit ${d.child.exitCode})\n${d.output().slice(-4000)}`).join('\n');
  }

  /** Fail at once when a daemon has exited. */
  assertDaemonsUp(): void {
    for (const d of this.daemons) if (d.child.exitCode !== null) assert.fail(`"${d.line}" exited with ${d.child.exitCode}:\n${d.output()}`);
  }

  async stop(): Promise<void> {
    for (const d of this.daemons.reverse()) {
      if (d.child.exitCode === null && d.child.signalCode === null) {
        d.child.kill('SIGTERM');
        await Promise.race([new Promise((r) => d.child.once('exit', r)), sleep(10_000)]);
      }
    }
  }
}

/** A work dir with `berth` on PATH (the built CLI) and the README's examples/. */
async function workDir(): Promise<{ dir: string; env: NodeJS.ProcessEnv }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-readme-'));
  await mkdir(path.join(dir, 'bin'));
  const shim = path.join(dir, 'bin', 'berth');
  await writeFile(shim, `#!/bin/sh\nexec "${process.execPath}" "${path.join(root, 'bin/berth.js')}" "$@"\n`);
  await chmod(shim, 0o755);
  await symlink(path.join(root, 'examples'), path.join(dir, 'examples'));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${path.join(dir, 'bin')}:${path.dirname(process.execPath)}:${process.env.PATH ?? ''}`,
    // Tasks as processes, so that they live in the host's namespace; logs a test can read.
    BERTH_DRIVER: 'process',
    BERTH_LOG_FORMAT: 'json',
    NO_COLOR: '1',
  };
  delete env.BERTH_ADDR;
  delete env.DOCKER_HOST;
  return { dir, env };
}

interface NodeJson {
  id: string;
  name: string;
  status: string;
  address: string;
  httpAddr: string;
  attributes: Record<string, string>;
  resources: { cpu: number; memoryMiB: number };
  portRange: { min: number; max: number };
}

async function readyNodes(host: Host, count: number, env: NodeJS.ProcessEnv = {}): Promise<NodeJson[]> {
  return eventually(`${count} ready node(s)`, async () => {
    host.assertDaemonsUp();
    const r = await host.run('berth node status --json', env);
    if (r.code !== 0) return undefined;
    const nodes = JSON.parse(r.stdout) as NodeJson[];
    return nodes.filter((n) => n.status === 'ready').length === count ? nodes : undefined;
  }, 60_000);
}

const problem = netnsProblem();

if (problem) {
  describe('the README cluster sections', () => {
    it('needs root and iproute2', (t) => {
      if (process.env.CI === 'true') assert.fail(problem);
      t.skip(problem);
    });
  });
} else {
  describe('the README cluster sections, run as written', { timeout: 300_000 }, () => {
    let work: { dir: string; env: NodeJS.ProcessEnv };
    const spaces: { remove: () => void }[] = [];
    const hosts: Host[] = [];

    before(async () => {
      work = await workDir();
    });
    after(async () => {
      for (const h of hosts) await h.stop();
      for (const s of spaces) s.remove();
      await rm(work.dir, { recursive: true, force: true });
    });

    it('a local multi-node cluster: two nodes on one machine, each with its name, ports and share', async () => {
      const lines = (await readmeBlock('A local multi-node cluster')).filter((l) => !l.startsWith('#'));
      const ns = netns(`berth-lc-${tag}`);
      spaces.push(ns);
      const host = new Host(ns.name, work.dir, work.env);
      hosts.push(host);
      const daemons = lines.filter((l) => l.endsWith('&'));
      assert.equal(daemons.length, 3, 'a server and two agents');
      for (const l of daemons) await host.line(l);
      const nodes = await readyNodes(host, 2);

      const byName = new Map(nodes.map((n) => [n.name, n]));
      for (const [name, range] of [['node-a', { min: 21000, max: 21999 }], ['node-b', { min: 22000, max: 22999 }]] as const) {
        const n = byName.get(name);
        assert.ok(n, `${name} registered: ${[...byName.keys()].join(', ')}`);
        assert.deepEqual(n.portRange, range);
        assert.equal(n.address, '127.0.0.1', 'a server on this host: the loopback interface reaches it');
        assert.match(n.httpAddr, /^http:\/\/127\.0\.0\.1:\d+$/);
        const cores = Number(n.attributes['cpu.cores']);
        const total = Number(n.attributes['memory.totalMiB']);
        assert.deepEqual(n.resources, { cpu: cores - 1, memoryMiB: total - 1024 }, 'the node offers the machine less its reserve');
      }
      assert.notEqual(byName.get('node-a')!.httpAddr, byName.get('node-b')!.httpAddr, 'each agent has its own endpoint port');

      for (const l of lines.filter((x) => !x.endsWith('&'))) {
        const r = await host.line(l);
        assert.equal(r.code, 0, `${l}\n${r.stdout}\n${r.stderr}\n${host.logs()}`);
        if (l === 'berth node status') assert.match(r.stdout, /node-a[\s\S]*node-b|node-b[\s\S]*node-a/);
      }
      const status = await host.run('berth job status web --json');
      const allocs = (JSON.parse(status.stdout) as { allocations: { id: string; nodeId: string; clientStatus: string; ports: { label: string; value: number }[] }[] }).allocations;
      const running = allocs.filter((a) => a.clientStatus === 'running');
      assert.equal(running.length, 3, status.stdout);
      for (const a of running) {
        const node = nodes.find((n) => n.id === a.nodeId)!;
        const port = a.ports.find((p) => p.label === 'http')!.value;
        assert.ok(port >= node.portRange.min && port <= node.portRange.max, `port ${port} of ${a.id} is in ${node.name}'s range`);
        const answer = await eventually(`web on port ${port}`, async () => {
          const r = await host.run(`${JSON.stringify(process.execPath)} -e "fetch('http://127.0.0.1:${port}/').then(r => r.text()).then(t => process.stdout.write(t))"`);
          return r.code === 0 && r.stdout;
        }, 30_000);
        assert.match(answer, /^hello from web\.web\[\d\]/);
      }
      await host.run('berth job stop web --purge');
    });

    it('a cluster on several hosts: the agent finds its address, the server reaches it for logs', async () => {
      const lines = await readmeBlock('A cluster on several hosts');
      const server = netns(`berth-mh-s-${tag}`);
      spaces.push(server);
      const agentNs = netns(`berth-mh-a-${tag}`);
      spaces.push(agentNs);
      const [sIf, aIf] = [`bmh${tag}s`, `bmh${tag}a`];
      ip('link', 'add', sIf, 'type', 'veth', 'peer', 'name', aIf);
      ip('link', 'set', sIf, 'netns', server.name);
      ip('link', 'set', aIf, 'netns', agentNs.name);
      ip('netns', 'exec', server.name, 'ip', 'addr', 'add', '10.0.0.1/24', 'dev', sIf);
      ip('netns', 'exec', server.name, 'ip', 'link', 'set', sIf, 'up');
      ip('netns', 'exec', agentNs.name, 'ip', 'addr', 'add', '10.0.0.2/24', 'dev', aIf);
      ip('netns', 'exec', agentNs.name, 'ip', 'link', 'set', aIf, 'up');
      const serverHost = new Host(server.name, work.dir, { ...work.env, BERTH_DATA_DIR: path.join(work.dir, 'mh-server') });
      const agentHost = new Host(agentNs.name, work.dir, { ...work.env, BERTH_DATA_DIR: path.join(work.dir, 'mh-agent') });
      hosts.push(agentHost, serverHost);

      // Which host runs a line: the comment above it says.
      let on: Host | undefined;
      let allocId = '';
      for (const l of lines) {
        if (l.startsWith('#')) {
          on = l.startsWith('# on the server host') ? serverHost : l.startsWith('# on each host that runs tasks') ? agentHost : l.startsWith('# from any host') ? agentHost : undefined;
          assert.ok(on, `a comment naming the host: ${l}`);
          continue;
        }
        assert.ok(on, `a host for ${l}`);
        if (l.startsWith('berth agent')) {
          await eventually('the server to answer', async () => (await agentHost.run('berth server members', { BERTH_ADDR: 'http://10.0.0.1:7460' })).code === 0, 30_000);
          // Told to advertise loopback while the server is on another host, the agent refuses and says why.
          const refused = await agentHost.run(`${l.slice(0, -1).trim()} --address 127.0.0.1`);
          assert.equal(refused.code, 2, refused.stderr);
          assert.match(refused.stderr, /--address 127\.0\.0\.1 is a loopback address, but the server http:\/\/10\.0\.0\.1:7460 is on another host.*leave the flag out to use 10\.0\.0\.2/s);
        }
        const r = await on.line(l.replace('ALLOC_ID', allocId));
        assert.equal(r.code, 0, `${l}\n${r.stdout}\n${r.stderr}\n${serverHost.logs()}\n${agentHost.logs()}`);
        if (l.startsWith('berth agent')) {
          const [node] = await readyNodes(agentHost, 1, { BERTH_ADDR: 'http://10.0.0.1:7460' }).catch(async (err: Error) => assert.fail(`${err.message}\n${agentHost.logs()}`));
          assert.equal(node.address, '10.0.0.2', 'the address of the interface that reaches the server');
          assert.match(node.httpAddr, /^http:\/\/10\.0\.0\.2:\d+$/);
          const cores = Number(node.attributes['cpu.cores']);
          assert.deepEqual(node.resources, { cpu: cores - 0.5, memoryMiB: Number(node.attributes['memory.totalMiB']) - 512 });
          const shown = await agentHost.run(`berth node status ${node.id.slice(0, 8)}`, { BERTH_ADDR: 'http://10.0.0.1:7460' });
          assert.match(shown.stdout, /Reserved for the host\s+= 0\.5 cpu, 512 MiB/, shown.stdout);
          assert.match(shown.stdout, /Address\s+= 10\.0\.0\.2\n/, shown.stdout);
        }
        if (l === 'berth job status hello') {
          const json = await agentHost.run('berth job status hello --json');
          allocId = (JSON.parse(json.stdout) as { allocations: { id: string }[] }).allocations[0].id;
          assert.ok(r.stdout.includes(allocId.slice(0, 8)), r.stdout);
        }
        if (l.startsWith('berth alloc logs')) assert.match(r.stdout, /hello from berth \(allocation /, 'the server proxied the task output from 10.0.0.2');
      }
      assert.ok(allocId, 'the README ran a job and read its logs');
      await agentHost.run('berth job stop hello --purge');
    });
  });
}

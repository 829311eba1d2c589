import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { berth, eventually, freePort } from '../harness/berth.ts';
import { startAgent, startServer, type BerthProcess } from '../harness/cluster.ts';
import { ip, netnsProblem } from '../harness/netns.ts';
import { killTasksUnder } from '../harness/observe.ts';

/**
 * The ingress across two hosts (network namespaces, each joined to the root namespace by a veth
 * pair; the server in the root namespace): an agent on host A with `--ingress` routes by Host to
 * instances (process tasks, a small node HTTP server) on A and B, drops an instance whose check
 * fails, answers 503 naming a service with none healthy, and keeps a client's keep-alive
 * connection through a route change; once on the built-in router, once on HAProxy.
 */
const tag = process.pid % 100000;
const hosts = ['a', 'b'].map((h, i) => ({ name: `ing-${h}-${tag}`, ns: `berth-ing-${h}-${tag}`, hostIf: `bi${h}${tag}h`, nsIf: `bi${h}${tag}n`, subnet: `10.${214 + i}.${tag % 250}` }));
const problem = netnsProblem() ?? (hasHaproxy() ? undefined : 'needs haproxy (apt-get install haproxy)');

function hasHaproxy(): boolean {
  try {
    execFileSync('haproxy', ['-v'], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

/** The backend every instance runs: says which node answers; /health fails while <dir>/sick-<node> exists. */
const BACKEND = `
const http = require('node:http'); const fs = require('node:fs');
const node = process.env.NODE_LABEL; const dir = process.env.SICK_DIR;
http.createServer((req, res) => {
  if (req.url === '/health') { res.statusCode = fs.existsSync(dir + '/sick-' + node) ? 500 : 200; return res.end('ok'); }
  res.end('hello from ' + node + ' ' + req.url + ' xff=' + req.headers['x-forwarded-for']);
}).listen(Number(process.env.BERTH_PORT_http), '0.0.0.0');
`;

/** One GET through a given keep-alive agent. */
function get(agent: http.Agent, address: string, req: { host: string; path?: string }): Promise<{ status: number; body: string; reused: boolean; local: number }> {
  const [hostname, port] = address.split(':');
  return new Promise((resolve, reject) => {
    const r = http.get({ hostname, port: Number(port), path: req.path ?? '/', headers: { host: req.host }, agent }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, reused: r.reusedSocket, local: r.socket?.localPort ?? 0 }));
    });
    r.on('error', reject);
  });
}

if (problem) {
  describe('the ingress across hosts', () => {
    it('needs root, iproute2 and haproxy', (t) => {
      if (process.env.CI === 'true') assert.fail(problem);
      t.skip(problem);
    });
  });
} else {
  describe('the ingress across hosts', { timeout: 90_000 }, () => {
    let dir: string;
    let server: (BerthProcess & { addr: string }) | undefined;
    let agentA: BerthProcess | undefined;
    let agentB: BerthProcess | undefined;
    let ingressPort = 0;
    const ingressAt = (): string => `${hosts[0].subnet}.2:${ingressPort}`;

    before(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'berth-ingress-'));
      for (const h of hosts) {
        ip('netns', 'add', h.ns);
        ip('link', 'add', h.hostIf, 'type', 'veth', 'peer', 'name', h.nsIf);
        ip('link', 'set', h.nsIf, 'netns', h.ns);
        ip('addr', 'add', `${h.subnet}.1/24`, 'dev', h.hostIf);
        ip('link', 'set', h.hostIf, 'up');
        ip('netns', 'exec', h.ns, 'ip', 'addr', 'add', `${h.subnet}.2/24`, 'dev', h.nsIf);
        ip('netns', 'exec', h.ns, 'ip', 'link', 'set', h.nsIf, 'up');
        ip('netns', 'exec', h.ns, 'ip', 'link', 'set', 'lo', 'up');
        ip('netns', 'exec', h.ns, 'ip', 'route', 'add', 'default', 'via', `${h.subnet}.1`);
      }
      ingressPort = await freePort();
      server = await startServer(path.join(dir, 'server'), await freePort(), `${hosts[0].subnet}.1`);
      agentB = await startAgent({ servers: [server.addr], dataDir: path.join(dir, 'b'), nodeName: hosts[1].name, driver: 'process', netns: hosts[1].ns });
      await startIngressAgent('builtin');
      const backend = path.join(dir, 'backend.js');
      await writeFile(backend, BACKEND);
      const job = (name: string, count: number, ingress: string): string => `id: ${name}
groups:
  - name: app
    count: ${count}
    constraints: [{operator: distinct_hosts}]
    ports: [{label: http}]
    services:
      - name: ${name}
        port: http
        ingress: ${ingress}
        checks: [{type: http, path: /health, interval: 500ms, timeout: 1s}]
    tasks:
      - name: web
        driver: process
        config: {command: "${process.execPath}", args: ["${backend}"]}
        env: {NODE_LABEL: "\${BERTH_NODE_ADDRESS}", SICK_DIR: "${dir}"}
        resources: {cpu: 50m, memory: 64Mi}
        kill_timeout: 1s
`;
      await writeFile(path.join(dir, 'web.yaml'), job('web', 2, '[{host: web.test}]'));
      await writeFile(path.join(dir, 'other.yaml'), job('other', 0, '[{host: other.test}]'));
      await writeFile(path.join(dir, 'clash.yaml'), job('clash', 0, '[{host: WEB.test, path: /}]'));
      const run = await berth(['job', 'run', path.join(dir, 'web.yaml')], { addr: server.addr, timeoutMs: 60_000 });
      assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    });

    after(async () => {
      if (server) await berth(['job', 'stop', 'web', '--purge', '--detach'], { addr: server.addr }).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 1500));
      await agentA?.stop();
      await agentB?.stop();
      await server?.stop();
      for (const h of hosts) {
        try {
          ip('link', 'del', h.hostIf);
        } catch {
          // Gone with the namespace.
        }
        ip('netns', 'del', h.ns);
      }
      killTasksUnder(dir);
      await rm(dir, { recursive: true, force: true });
    });

    async function startIngressAgent(proxy: 'builtin' | 'haproxy'): Promise<void> {
      await agentA?.stop();
      const args = ['--ingress', `${hosts[0].subnet}.2:${ingressPort}`, '--ingress-proxy', proxy];
      agentA = await startAgent({ servers: [server!.addr], dataDir: path.join(dir, 'a'), nodeName: hosts[0].name, driver: 'process', netns: hosts[0].ns, args });
    }

    /** The node addresses that answered `web.test` over a few requests. */
    async function answering(agent: http.Agent): Promise<string[]> {
      const seen = new Set<string>();
      for (let i = 0; i < 8; i++) {
        const r = await get(agent, ingressAt(), { host: 'web.test', path: '/x' });
        if (r.status === 200) seen.add(r.body.split(' ')[2]);
      }
      return [...seen].sort();
    }

    async function scenario(proxy: 'builtin' | 'haproxy'): Promise<void> {
      const client = new http.Agent({ keepAlive: true, maxSockets: 1 });
      const both = await eventually(`${proxy}: web.test served from both hosts`, async () => ((await answering(client)).length === 2 ? answering(client) : undefined), 30_000);
      assert.equal(both.length, 2);
      const first = await get(client, ingressAt(), { host: 'web.test', path: '/api/v1' });
      assert.match(first.body, /^hello from \S+ \/api\/v1 xff=10\.214\./, 'the path and X-Forwarded-For reach the instance');

      // A route change (a new service with a host of its own) while the keep-alive connection is open.
      assert.equal((await berth(['job', 'run', '--detach', path.join(dir, 'other.yaml')], { addr: server!.addr })).code, 0);
      const noneHealthy = await eventually(`${proxy}: other.test routed`, async () => {
        const r = await get(new http.Agent(), ingressAt(), { host: 'other.test' });
        return r.status === 503 ? r : undefined;
      });
      assert.match(noneHealthy.body, /no healthy instance of service "other"/);
      const again = await get(client, ingressAt(), { host: 'web.test' });
      assert.equal(again.status, 200, again.body);
      assert.ok(again.reused && again.local === first.local, `${proxy}: the open keep-alive connection carried the next request (reused ${again.reused})`);

      // A failing check takes host B's instance out of rotation; passing again brings it back.
      await writeFile(path.join(dir, `sick-${hosts[1].subnet}.2`), '');
      await eventually(`${proxy}: only host A answers`, async () => JSON.stringify(await answering(new http.Agent({ keepAlive: true }))) === JSON.stringify([`${hosts[0].subnet}.2`]), 20_000);
      await rm(path.join(dir, `sick-${hosts[1].subnet}.2`));
      await eventually(`${proxy}: both hosts answer again`, async () => (await answering(new http.Agent({ keepAlive: true }))).length === 2, 20_000);

      const status = await berth(['ingress', 'status', '--json'], { addr: server!.addr });
      const parsed = JSON.parse(status.stdout) as { routes: { host?: string }[]; nodes: { proxy: string }[]; services: { service: string; instances: { status: string }[] }[] };
      assert.deepEqual(parsed.routes.map((r) => r.host), ['other.test', 'web.test']);
      assert.deepEqual(parsed.nodes.map((n) => n.proxy), [proxy]);
      assert.equal(parsed.services.find((s) => s.service === 'web')?.instances.filter((i) => i.status === 'passing').length, 2);
      assert.equal((await berth(['job', 'stop', 'other', '--purge', '--detach'], { addr: server!.addr })).code, 0);
      client.destroy();
    }

    it('routes by Host to healthy instances on both hosts on the built-in router', async () => {
      await scenario('builtin');
      const text = await berth(['ingress', 'status'], { addr: server!.addr });
      assert.match(text.stdout, /web\.test\/\s+web\s+web\s+2\/2/);
    });

    it('refuses at submit a host and path another job routes to another service', async () => {
      const clash = await berth(['job', 'run', path.join(dir, 'clash.yaml')], { addr: server!.addr });
      assert.equal(clash.code, 1);
      assert.match(clash.stderr, /groups\[0\]\.services\[0\]\.ingress\[0\]: host "web\.test" path "\/" is already routed to service "web" of job "web"/);
    });

    it('routes the same way on HAProxy driven through its runtime API', async () => {
      await startIngressAgent('haproxy');
      await scenario('haproxy');
    });
  });
}

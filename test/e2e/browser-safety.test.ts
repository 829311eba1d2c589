/**
 * No way in from a web browser on a default `berth dev` (issue 15, item 6): the requests a page the
 * user visits would send, sent exactly, and then sent by a real headless Chromium; and the clients
 * that must keep working (the CLI, the consul npm client, a page the server serves itself).
 */
import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Consul from 'consul';
import { WebSocket } from 'ws';
import { BerthClient } from '../../src/api/index.ts';
import type { Allocation } from '../../src/model/index.ts';
import { berth, eventually, freePort, startDev, type DevProcess } from '../harness/berth.ts';
import { withDockerEngine } from '../harness/dockerd.ts';
import { startServer } from '../harness/cluster.ts';

const CHROMIUM = '/usr/bin/chromium';

/** A long-running shell in the test image, to exec into. */
function shellSpec(image: string): string {
  return `
id: shell
groups:
  - name: shell
    tasks:
      - name: sh
        driver: docker
        config:
          image: ${image}
          command: /bin/sh
          args: ["-c", "exec sleep 3600"]
        resources: {cpu: 50m, memory: 16Mi}
        kill_timeout: 1s
`;
}

/** What a page would post: a privileged job. */
const EVIL_JOB = 'id: pwn\ngroups:\n  - name: pwn\n    tasks:\n      - name: pwn\n        driver: process\n        config: {command: /bin/sh, args: ["-c", "id > /tmp/berth-pwned"]}\n';

interface Reply {
  status: number;
  text: string;
}

/** A request with exactly these headers (fetch would not let a test set Origin or Host). */
function raw(url: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: options.method ?? 'GET', headers: options.headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

function messageOf(reply: Reply | string): string {
  return (JSON.parse(typeof reply === 'string' ? reply : reply.text) as { error: { message: string } }).error.message;
}

/** Open a WebSocket: the socket, or the HTTP answer that refused it. */
function openWs(url: string, headers: Record<string, string> = {}): Promise<{ ws?: WebSocket; status?: number; body?: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.on('open', () => resolve({ ws }));
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    ws.on('error', reject);
  });
}

/** The local addresses of the TCP and UDP sockets `pid` listens on, from /proc. */
function listeningAddresses(pid: number): string[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /socket:\[(\d+)\]/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]);
    } catch {
      // Closed meanwhile.
    }
  }
  const out: string[] = [];
  for (const table of ['tcp', 'tcp6', 'udp', 'udp6']) {
    for (const line of readFileSync(`/proc/${pid}/net/${table}`, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10 || !inodes.has(cols[9])) continue;
      // TCP: only listening sockets (0A); UDP sockets that are bound are all "listening".
      if (table.startsWith('tcp') && cols[3] !== '0A') continue;
      out.push(`${table} ${decodeAddress(cols[1])}`);
    }
  }
  return out;
}

/** `0100007F:1D24` -> `127.0.0.1:7460`; IPv6 in /proc's four little-endian words. */
function decodeAddress(hexAddr: string): string {
  const [hex, port] = hexAddr.split(':');
  if (hex.length === 8) return `${[3, 2, 1, 0].map((i) => parseInt(hex.slice(i * 2, i * 2 + 2), 16)).join('.')}:${parseInt(port, 16)}`;
  const words = hex.match(/.{8}/g)!.map((w) => w.match(/../g)!.reverse().join(''));
  const groups = words.join('').match(/.{4}/g)!.map((g) => g.replace(/^0+(?=.)/, ''));
  return `[${groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::')}]:${parseInt(port, 16)}`;
}

function isLoopbackAddress(addr: string): boolean {
  return /^(tcp|udp)6? (127\.\d+\.\d+\.\d+|\[::1\]|\[::ffff:7f00:[0-9a-f]+\]):\d+$/.test(addr);
}

/**
 * The page an attacker would serve: a no-cors text/plain fetch of a job, the same as a form post
 * into a frame, and the exec WebSocket; what happened ends up in `window.outcome`.
 */
function attackPage(target: string, job: string, allocId: string): string {
  const wsUrl = `${target.replace(/^http/, 'ws')}/v1/allocations/${allocId}/exec?command=${encodeURIComponent('["id"]')}`;
  return `<!doctype html><title>a page the user visits</title><iframe name="sink"></iframe><script>
(async () => {
  const out = {};
  try {
    await fetch(${JSON.stringify(`${target}/v1/jobs`)}, { method: 'POST', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body: ${JSON.stringify(job)} });
    out.fetch = 'sent';
  } catch (err) {
    out.fetch = 'failed: ' + err;
  }
  const form = document.createElement('form');
  Object.assign(form, { method: 'POST', action: ${JSON.stringify(`${target}/v1/jobs`)}, enctype: 'text/plain', target: 'sink' });
  const field = document.createElement('input');
  Object.assign(field, { name: 'id: pwn2\\ngroups: []\\nx', value: '1' });
  form.append(field);
  document.body.append(form);
  const loaded = new Promise((resolve) => document.querySelector('iframe').addEventListener('load', resolve, { once: true }));
  form.submit();
  await loaded;
  out.ws = await new Promise((resolve) => {
    const ws = new WebSocket(${JSON.stringify(wsUrl)});
    ws.onmessage = (m) => resolve('message: ' + m.data);
    ws.onerror = () => resolve('error');
  });
  window.outcome = out;
})();
</script>`;
}

withDockerEngine('no way in from a browser on berth dev', (engine) => {
  describe('no way in from a browser on berth dev', { timeout: 180_000 }, () => {
    let dev: DevProcess;
    let alloc: Allocation;
    let client: BerthClient;
    let dnsPort: number;
    const jobIds = async (): Promise<string[]> => (await client.listJobs()).value.map((j) => j.id).sort();
    /** How many requests the server answered with `status` on `route`, from its metrics. */
    const answered = async (method: string, route: string, status: number): Promise<number> => {
      const text = await (await fetch(`${dev.addr}/v1/metrics`)).text();
      const line = text.split('\n').find((l) => l.startsWith('berth_http_request_duration_seconds_count{') && l.includes(`method="${method}"`) && l.includes(`route="${route}"`) && l.includes(`status="${status}"`));
      return line ? Number(line.split(' ').pop()) : 0;
    };

    before(async () => {
      dnsPort = await freePort();
      dev = await startDev({ driver: 'docker', dockerHost: engine.host, args: ['--dns-addr', `127.0.0.1:${dnsPort}`] });
      client = new BerthClient({ address: dev.addr });
      await client.registerJob(shellSpec(engine.image));
      alloc = await eventually('the shell running', async () => (await client.jobAllocations('shell')).value.find((a) => a.clientStatus === 'running'), 60_000);
    });

    after(async () => {
      if (dev) {
        await client.stopJob('shell', true).catch(() => undefined);
        await eventually('the shell stopped', async () => ((await client.jobAllocations('shell').catch(() => undefined))?.value ?? []).every((a) => a.clientStatus !== 'running'), 20_000).catch(() => undefined);
      }
      await dev?.cleanup();
    });

    it('binds only loopback addresses, its API, DNS and agent endpoint alike', () => {
      const addrs = listeningAddresses(dev.child.pid!);
      assert.ok(addrs.some((a) => a === `tcp ${dev.addr.replace('http://', '')}`), `the API among ${addrs.join(', ')}`);
      assert.ok(addrs.filter((a) => a.startsWith('tcp')).length >= 3, `API, DNS over TCP and the agent endpoint: ${addrs.join(', ')}`);
      assert.deepEqual(addrs.filter((a) => !isLoopbackAddress(a)), [], 'nothing listens beyond loopback');
      assert.doesNotMatch(dev.logs(), /WARNING: the berth API listens on/);
    });

    it('refuses recursion on its DNS: a name outside its domain is REFUSED, not looked up', async () => {
      const resolver = new Resolver({ timeout: 2000, tries: 1 });
      resolver.setServers([`127.0.0.1:${dnsPort}`]);
      await assert.rejects(resolver.resolve4('example.com'), { code: 'EREFUSED' });
    });

    it("refuses a page's text/plain POST of a job (a simple request, no preflight) and creates no job", async () => {
      const simple: Record<string, string>[] = [{ origin: 'http://evil.example', 'content-type': 'text/plain;charset=UTF-8' }, { 'content-type': 'text/plain' }];
      for (const headers of simple) {
        const res = await raw(`${dev.addr}/v1/jobs`, { method: 'POST', headers, body: EVIL_JOB });
        assert.equal(res.status, headers.origin ? 403 : 415, res.text);
      }
      assert.deepEqual(await jobIds(), ['shell']);
    });

    it('refuses a foreign Origin whatever the request, with a message naming it and --allowed-origin', async () => {
      const post = await raw(`${dev.addr}/v1/jobs`, { method: 'POST', headers: { origin: 'http://evil.example', 'content-type': 'application/yaml' }, body: EVIL_JOB });
      assert.equal(post.status, 403);
      assert.match(messageOf(post), /^Cannot POST \/v1\/jobs: Origin "http:\/\/evil\.example" is refused: .* start the server with --allowed-origin http:\/\/evil\.example$/);
      assert.equal((await raw(`${dev.addr}/v1/kv/secret`, { headers: { origin: 'null' } })).status, 403, 'the opaque origin too');
      assert.equal((await raw(`${dev.addr}/v1/kv/x`, { method: 'PUT', headers: { origin: 'http://evil.example' }, body: 'x' })).status, 403);
      assert.deepEqual(await jobIds(), ['shell']);
    });

    it('refuses Host: evil.example (DNS rebinding), naming --allowed-host', async () => {
      const res = await raw(`${dev.addr}/v1/jobs`, { headers: { host: `evil.example:${new URL(dev.addr).port}` } });
      assert.equal(res.status, 403);
      assert.match(messageOf(res), /Host "evil\.example:\d+" is refused: .*--allowed-host evil\.example$/);
    });

    it('refuses the exec WebSocket from a foreign Origin, and runs the CLI exec', async () => {
      const url = `${dev.addr.replace(/^http/, 'ws')}/v1/allocations/${alloc.id}/exec?command=${encodeURIComponent('["id"]')}`;
      const foreign = await openWs(url, { origin: 'http://evil.example' });
      assert.equal(foreign.status, 403);
      assert.match(messageOf(foreign.body!), /open a WebSocket at .*: Origin "http:\/\/evil\.example" is refused/);
      const rebound = await openWs(url, { host: 'evil.example' });
      assert.equal(rebound.status, 403);
      const exec = await berth(['alloc', 'exec', alloc.id, '--', 'id'], { addr: dev.addr });
      assert.equal(exec.code, 0, exec.stderr);
      assert.match(exec.stdout, /uid=\d+/);
    });

    it('serves the normal CLI, the consul npm client and requests from its own origin', async () => {
      const put = await berth(['kv', 'put', 'app/config', 'hello'], { addr: dev.addr });
      assert.equal(put.code, 0, put.stderr);
      const status = await berth(['job', 'status', 'shell'], { addr: dev.addr });
      assert.equal(status.code, 0, status.stderr);

      const consul = new Consul({ host: '127.0.0.1', port: Number(new URL(dev.addr).port) });
      assert.equal((await consul.kv.get('app/config'))?.Value, 'hello');
      assert.equal(await consul.kv.set('app/other', 'v'), true);
      await consul.agent.service.register({ name: 'legacy', id: 'legacy-1', address: '127.0.0.1', port: 9999 });
      assert.ok(Object.keys(await consul.catalog.service.list()).includes('legacy'));
      assert.equal((await consul.health.service('legacy')).length, 1);
      await consul.agent.service.deregister('legacy-1');

      for (const origin of [dev.addr, dev.addr.replace('127.0.0.1', 'localhost')]) {
        const host = new URL(origin).host;
        const res = await raw(`${dev.addr}/v1/kv/app/config?raw`, { headers: { origin, host } });
        assert.equal(res.status, 200, `${origin}: ${res.text}`);
        assert.equal(res.text, 'hello');
      }
    });

    const chromium = existsSync(CHROMIUM);
    it('stops a real headless Chromium page on another port: fetch, form post, WebSocket and a rebound name', { skip: !chromium && !process.env.CI ? `${CHROMIUM} is not installed` : false }, async () => {
      assert.ok(chromium, `${CHROMIUM} is needed (apt-get install chromium)`);
      const { chromium: launcher } = await import('playwright-core');
      const page$ = http.createServer((_req, res) => res.setHeader('content-type', 'text/html').end(attackPage(dev.addr, EVIL_JOB.replace('pwn', 'pwn1'), alloc.id)));
      await new Promise<void>((resolve) => page$.listen(0, '127.0.0.1', resolve));
      const pagePort = (page$.address() as AddressInfo).port;
      const devPort = new URL(dev.addr).port;
      const browser = await launcher.launch({
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--host-resolver-rules=MAP evil.example 127.0.0.1',
          // Chromium's own guard against public pages reaching loopback (Local/Private Network Access) would stop the
          // rebound requests before berth sees them; other browsers have none, so berth must refuse them itself.
          '--disable-features=LocalNetworkAccessChecks,BlockInsecurePrivateNetworkRequests,PrivateNetworkAccessSendPreflights,PrivateNetworkAccessRespectPreflightResults',
        ],
      });
      try {
        const refusedBefore = await answered('POST', '/v1/jobs', 403);
        const page = await browser.newPage();
        await page.goto(`http://127.0.0.1:${pagePort}/`);
        await page.waitForFunction('window.outcome !== undefined', undefined, { timeout: 20_000 });
        const outcome = (await page.evaluate('window.outcome')) as Record<string, string>;
        assert.equal(outcome.fetch, 'sent', 'the page sent its request');
        assert.equal(outcome.ws, 'error', 'the WebSocket was refused');
        assert.equal(await answered('POST', '/v1/jobs', 403), refusedBefore + 2, 'the server refused the fetch and the form post');

        // DNS rebinding: a page at evil.example:<berth's port> (served by the test, as the attacker's
        // server would before rebinding) whose same-origin requests reach berth.
        await page.route(`http://evil.example:${devPort}/`, (route) => route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>rebound</title>' }));
        await page.goto(`http://evil.example:${devPort}/`);
        const rebound = (await page.evaluate(`(async () => {
          const read = await fetch('/v1/jobs');
          const write = await fetch('/v1/jobs', { method: 'POST', headers: { 'content-type': 'application/yaml' }, body: ${JSON.stringify(EVIL_JOB.replace('pwn', 'pwn3'))} });
          return { read: read.status, readBody: await read.text(), write: write.status };
        })()`)) as { read: number; readBody: string; write: number };
        assert.equal(rebound.read, 403);
        assert.match(rebound.readBody, /Host \\"evil\.example:\d+\\" is refused/);
        assert.equal(rebound.write, 403);
      } finally {
        await browser.close();
        page$.close();
      }
      assert.deepEqual(await jobIds(), ['shell'], 'no job from the page');
    });
  });
});

describe('berth server on every interface', { timeout: 60_000 }, () => {
  it('warns on stderr, answers at its interface addresses and --allowed-host names, and refuses other Hosts', async (t) => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'berth-server-'));
    const server = await startServer(dataDir, undefined, '0.0.0.0', ['--no-dns', '--allowed-host', 'berth.test']);
    t.after(async () => {
      await server.stop();
      await rm(dataDir, { recursive: true, force: true });
    });
    assert.match(server.logs(), /WARNING: the berth API listens on 0\.0\.0\.0 \(every interface of this host\), beyond this host, without ACLs and without TLS\./);
    assert.match(server.logs(), /Turn ACLs on with --acl/);
    assert.match(server.logs(), /--tls-cert <file> --tls-key <file>/);

    const local = Object.values(os.networkInterfaces()).flatMap((l) => l ?? []).filter((a) => !a.internal && a.family === 'IPv4').map((a) => a.address);
    for (const address of local) {
      const res = await raw(`http://${address}:${server.port}/v1/nodes`);
      assert.equal(res.status, 200, `${address}: ${res.text}`);
    }
    assert.equal((await raw(`http://127.0.0.1:${server.port}/v1/nodes`, { headers: { host: `berth.test:${server.port}` } })).status, 200);
    const evil = await raw(`http://127.0.0.1:${server.port}/v1/nodes`, { headers: { host: `evil.example:${server.port}` } });
    assert.equal(evil.status, 403);
    assert.match(messageOf(evil), /--allowed-host evil\.example/);
  });
});

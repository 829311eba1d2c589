/**
 * Services across hosts, for real: two hosts as network namespaces on one link with the server,
 * each with its own `berth agent --service-addresses` and its own dockerd (own docker0 and
 * subnet). A container on host A reaches `web.service.berth:8080` (and the bare `web:8080`)
 * served only on host B; an instance whose check fails stops getting traffic; a killed
 * instance's clients go on with the other; a process task on A reaches B's containers through
 * its upstream.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type Docker from 'dockerode';
import type { Allocation } from '../../src/model/index.ts';
import { connectDocker } from '../../src/drivers/index.ts';
import { berth, eventually, freePort } from '../harness/berth.ts';
import { startAgent, startServer, type BerthProcess } from '../harness/cluster.ts';
import { execIn, type DockerEnv } from '../harness/dockerd.ts';
import { netnsProblem } from '../harness/netns.ts';
import { startNetnsHosts, type NetnsHosts } from '../harness/netns-hosts.ts';

const id = process.pid % 100000;
const hosts = ['a', 'b'] as const;
const subnet = `10.214.${process.pid % 250}`;
const nodeName = (h: string): string => `sa-${h}-${id}`;
const CHECK_INTERVAL_MS = 500;

const problem = netnsProblem();

if (problem) {
  describe('service addresses across hosts', () => {
    it('needs root and iproute2', (t) => {
      if (process.env.CI === 'true') assert.fail(problem);
      t.skip(problem);
    });
  });
} else {
  describe('service addresses across hosts', { timeout: 120_000 }, () => {
    let dir: string;
    let server: (BerthProcess & { addr: string }) | undefined;
    let net: NetnsHosts | undefined;
    const engines: Partial<Record<(typeof hosts)[number], DockerEnv>> = {};
    const ns = (h: 'a' | 'b'): string => net!.hosts[hosts.indexOf(h)].ns;
    const agents: BerthProcess[] = [];
    let upstreamPort = 0;
    let seenFile = '';
    let web: Allocation[] = [];

    const docker = (h: 'a' | 'b'): Docker => connectDocker(engines[h]!.host);
    const containerOf = async (h: 'a' | 'b', allocId: string): Promise<Docker.Container> => {
      const [c] = await docker(h).listContainers({ filters: JSON.stringify({ label: [`berth.alloc=${allocId}`], status: ['running'] }) });
      assert.ok(c, `a running container of ${allocId} on ${h}`);
      return docker(h).getContainer(c.Id);
    };
    const allocsOf = async (job: string): Promise<Allocation[]> => (await (await fetch(`${server!.addr}/v1/jobs/${job}/allocations`)).json()) as Allocation[];
    const liveAllocs = async (job: string): Promise<Allocation[]> => (await allocsOf(job)).filter((a) => a.desiredStatus === 'run' && a.clientStatus === 'running');
    /**
     * GET / `times` times through a name from the client container on host A, in one exec (each
     * exec costs about a second here); the bodies, one a line. busybox nc: its wget crashes in this image.
     */
    const fetchFromA = async (name: string, times = 1): Promise<string> => {
      const [client] = await liveAllocs('client');
      const get = `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 ${name} 8080 | tail -n 1`;
      const out = await execIn(await containerOf('a', client.id), ['sh', '-c', `for i in $(seq ${times}); do ${get}; done`]);
      return out.trim();
    };
    /** The lines the upstream fetcher on host A wrote since `from` lines. */
    const seenSince = async (from: number): Promise<string[]> => (await readFile(seenFile, 'utf8').catch(() => '')).split('\n').filter(Boolean).slice(from);

    before(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'berth-svcaddr-'));
      net = await startNetnsHosts({ tag: `sa${id}`, subnet, bips: ['172.28.1.1/24', '172.28.2.1/24'] });
      Object.assign(engines, { a: net.hosts[0].engine, b: net.hosts[1].engine });
      server = await startServer(path.join(dir, 'server'), await freePort(), net.rootAddress);
      for (const h of hosts) {
        agents.push(await startAgent({ servers: [server.addr], dataDir: path.join(dir, h), nodeName: nodeName(h), driver: 'docker', dockerHost: engines[h]!.host, netns: ns(h), args: ['--service-addresses'] }));
      }
      upstreamPort = await freePort();
      seenFile = path.join(dir, 'seen');
      await runJobs();
    });

    after(async () => {
      // The process task runs in host A's namespace, which lives while it does: stop the jobs first.
      if (server) {
        for (const job of ['fetcher', 'client', 'web']) await berth(['job', 'stop', job, '--detach'], { addr: server.addr }).catch(() => undefined);
        await eventually('the fetcher to stop', async () => (await allocsOf('fetcher')).every((a) => a.clientStatus !== 'running' && a.clientStatus !== 'pending'), 20_000).catch(() => undefined);
      }
      for (const a of agents) await a.stop();
      await server?.stop();
      await net?.stop();
      await rm(dir, { recursive: true, force: true });
    });

    async function runJobs(): Promise<void> {
      const on = (h: string): string => `constraints: [{attribute: "\${node.unique.name}", value: "${nodeName(h)}"}]`;
      const image = engines.a!.image;
      const files: Record<string, string> = {
        web: `id: web
groups:
  - name: web
    count: 2
    ${on('b')}
    ports: [{label: http, to: 8080}]
    services:
      - name: web
        port: http
        checks: [{type: http, path: /health, interval: ${CHECK_INTERVAL_MS}ms, timeout: 400ms}]
    tasks:
      - name: httpd
        driver: docker
        config: {image: "${image}", command: /bin/sh, args: ["-c", "echo $BERTH_ALLOC_ID > /www/index.html; echo ok > /www/health; exec httpd -f -p 8080 -h /www"]}
        resources: {cpu: 10m, memory: 16Mi}
        kill_timeout: 1s
`,
        client: `id: client
groups:
  - name: client
    ${on('a')}
    tasks:
      - name: sh
        driver: docker
        config: {image: "${image}", command: /bin/sh, args: ["-c", "trap 'exit 0' TERM; while :; do sleep 1; done"]}
        resources: {cpu: 10m, memory: 8Mi}
        kill_timeout: 1s
`,
        fetcher: `id: fetcher
groups:
  - name: fetcher
    ${on('a')}
    upstreams: [{service: web, local_bind_port: ${upstreamPort}, connect_timeout: 500ms}]
    tasks:
      - name: loop
        driver: process
        env: {OUT: "${seenFile}"}
        config: {command: /bin/sh, args: ["-c", "h=$(echo $BERTH_UPSTREAM_ADDR_web | cut -d: -f1); p=$(echo $BERTH_UPSTREAM_ADDR_web | cut -d: -f2); while :; do printf 'GET / HTTP/1.0\\\\r\\\\n\\\\r\\\\n' | busybox nc -w 2 $h $p | tail -n 1 >> $OUT; sleep 0.1; done"]}
        resources: {cpu: 10m, memory: 16Mi}
        kill_timeout: 1s
`,
      };
      for (const [name, text] of Object.entries(files)) {
        const file = path.join(dir, `${name}.yaml`);
        await writeFile(file, text);
        const run = await berth(['job', 'run', '--detach', file], { addr: server!.addr });
        assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
      }
      web = await eventually('2 web instances running', async () => {
        const live = await liveAllocs('web');
        return live.length === 2 && live;
      }, 60_000);
      await eventually('the client and the fetcher running', async () => (await liveAllocs('client')).length === 1 && (await liveAllocs('fetcher')).length === 1, 60_000);
    }

    it('a container on host A fetches http://web.service.berth:8080/ served only on host B, and the bare web:8080 too', async () => {
      const nodes = (await (await fetch(`${server!.addr}/v1/nodes`)).json()) as { id: string; name: string }[];
      const b = nodes.find((n) => n.name === nodeName('b'))!;
      assert.ok(web.every((a) => a.nodeId === b.id), 'every web instance runs on host B');
      const ids = web.map((a) => a.id);
      const body = await eventually('an answer through the service address', async () => {
        const out = await fetchFromA('web.service.berth');
        return ids.includes(out) && out;
      }, 20_000);
      assert.ok(ids.includes(body));
      assert.ok(ids.includes(await fetchFromA('web')), 'the search path makes the bare name work');
      const info = await berth(['service', 'info', 'web'], { addr: server!.addr });
      assert.match(info.stdout, /^Service address: 198\.18\.0\.1 \(ports 8080\), on agents with --service-addresses$/m);
    });

    it('a process task on host A reaches both containers on host B through its upstream', async () => {
      const ids = web.map((a) => a.id).sort();
      const seen = await eventually('both instances through the upstream', async () => {
        const got = [...new Set(await seenSince(0))].filter((l) => ids.includes(l)).sort();
        return got.length === 2 && got;
      }, 20_000);
      assert.deepEqual(seen, ids);
    });

    it('an instance whose check fails stops getting traffic within one check interval, and its open connections are closed', async () => {
      const [sick, well] = web;
      // Two idle connections through the service address from A, one to each instance (round robin):
      // the one to the sick instance must be closed when it leaves, the other left alone.
      const [clientAlloc] = await liveAllocs('client');
      const client = await containerOf('a', clientAlloc.id);
      const idle = (n: number): string => `(sleep 60 | (nc web.service.berth 8080 >/dev/null 2>&1; echo closed-${n} >> /tmp/closed)) >/dev/null 2>&1 &`;
      await execIn(client, ['sh', '-c', `rm -f /tmp/closed; ${idle(1)} sleep 0.3; ${idle(2)} sleep 0.3`]);
      await execIn(await containerOf('b', sick.id), ['rm', '/www/health']);
      const failedAt = Date.now();
      // The check needs one interval to see it; the proxies follow the catalog at once.
      await eventually('the sick instance out of the upstream', async () => {
        const from = (await seenSince(0)).length;
        await new Promise((r) => setTimeout(r, 300));
        const lines = await seenSince(from);
        return lines.length > 0 && lines.every((l) => l === well.id);
      }, 10_000);
      const tookMs = Date.now() - failedAt;
      assert.ok(tookMs < CHECK_INTERVAL_MS * 2 + 1000, `took ${tookMs} ms`);
      const closedLines = async (): Promise<string[]> => (await execIn(client, ['cat', '/tmp/closed'])).split('\n').filter((l) => l.startsWith('closed-'));
      await eventually('the idle connection to the sick instance closed', async () => (await closedLines()).length > 0, 5000);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal((await closedLines()).length, 1, 'exactly one idle connection closed: the other instance kept its own');
      assert.deepEqual((await fetchFromA('web.service.berth', 4)).split('\n'), [well.id, well.id, well.id, well.id], 'containers on A reach only the passing instance');
      await execIn(await containerOf('b', sick.id), ['sh', '-c', 'echo ok > /www/health']);
      await eventually('the instance back in rotation', async () => (await seenSince(0)).slice(-10).includes(sick.id), 10_000);
    });

    it("a killed instance's clients reconnect to the other one without a gap", async () => {
      const [victim, survivor] = web;
      const from = (await seenSince(0)).length;
      await (await containerOf('b', victim.id)).kill();
      const killedAt = Date.now();
      await new Promise((r) => setTimeout(r, 1500));
      const after = await seenSince(from);
      // The fetcher asks every ~0.1 s: 1.5 s is ~10 answers, each from the survivor once the victim died.
      const late = after.slice(Math.floor(after.length / 3));
      assert.ok(after.length >= 3, `the fetcher kept getting answers (${after.length} in ${Date.now() - killedAt} ms)`);
      assert.ok(late.length > 0 && late.every((l) => l === survivor.id), after.join(','));
    });
  });
}

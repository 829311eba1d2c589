/**
 * `berth compose` across two hosts, for real: two network namespaces, each with its own dockerd
 * and its own `berth agent --service-addresses`. A three-tier project (a database with a
 * healthcheck, a one-shot migration, an API needing the database healthy, a front end with a
 * published port) comes up in order; the API on host A reaches the database on host B as `db:5432`,
 * its Compose name and port with nothing berth-specific in the file; the API is restarted when the
 * database restarts (`depends_on` with `restart: true`); the front end, on another network than
 * the database, cannot resolve its name; it scales; and `down` leaves nothing on either host.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type Docker from 'dockerode';
import type { Allocation } from '../../src/model/index.ts';
import { connectDocker } from '../../src/drivers/index.ts';
import { berth, eventually, freePort, type CliResult } from '../harness/berth.ts';
import { startAgent, startServer, type BerthProcess } from '../harness/cluster.ts';
import { execIn } from '../harness/dockerd.ts';
import { netnsProblem } from '../harness/netns.ts';
import { startNetnsHosts, type NetnsHosts } from '../harness/netns-hosts.ts';

const id = process.pid % 100000;
const nodeName = (i: number): string => `ch-${'ab'[i]}-${id}`;

/**
 * Every tier serves /cgi-bin/ask: its own name, then what the next tier (by Compose name and port,
 * from /www/next) answers. The script is a Compose config; `$$` is a `$` for the shell.
 */
function shopYaml(webPort: number): string {
  const serve = (port: number, me: string, next: string): string[] => ['sh', '-c', `mkdir -p /www/cgi-bin && cp /etc/ask.cgi /www/cgi-bin/ask && chmod +x /www/cgi-bin/ask && echo ${me} > /www/me && echo '${next}' > /www/next && exec httpd -f -p ${port} -h /www`];
  return `name: shop
x-busybox: &busybox
  image: \${IMAGE}
  pull_policy: never
  stop_grace_period: 1s
  configs: [{source: ask, target: /etc/ask.cgi}]
configs:
  ask:
    content: |
      #!/bin/sh
      printf 'Content-Type: text/plain\\r\\n\\r\\n'
      set -- $$(cat /www/next)
      printf '%s -> ' "$$(cat /www/me)"
      printf 'GET %s HTTP/1.0\\r\\n\\r\\n' "$$3" | nc -w 2 "$$1" "$$2" | tail -n 1
networks: {front: {}, back: {}}
services:
  db:
    <<: *busybox
    command: ["sh", "-c", "sleep 1; mkdir -p /www && echo db-ok > /www/index.html && exec httpd -f -p 5432 -h /www"]
    expose: ["5432"]
    healthcheck:
      test: ["CMD-SHELL", "printf 'GET / HTTP/1.0\\\\r\\\\n\\\\r\\\\n' | nc -w 1 127.0.0.1 5432 | grep -q db-ok"]
      interval: 300ms
      retries: 2
    networks: [back]
    deploy: {placement: {constraints: ["node.hostname == ${nodeName(1)}"]}}
  migrate:
    <<: *busybox
    restart: "no"
    command: ["sh", "-c", "printf 'GET / HTTP/1.0\\\\r\\\\n\\\\r\\\\n' | nc -w 2 db 5432 | grep db-ok && echo migrated"]
    networks: [back]
    depends_on:
      db: {condition: service_healthy}
  api:
    <<: *busybox
    command: ${JSON.stringify(serve(8080, 'api-$$BERTH_ALLOC_INDEX', 'db 5432 /'))}
    expose: ["8080"]
    depends_on:
      db: {condition: service_healthy, restart: true}
      migrate: {condition: service_completed_successfully}
    networks: {front: {}, back: {aliases: [app]}}
    deploy: {placement: {constraints: ["node.hostname == ${nodeName(0)}"]}}
  web:
    <<: *busybox
    command: ${JSON.stringify(serve(80, 'web', 'api 8080 /cgi-bin/ask'))}
    ports: ["${webPort}:80"]
    depends_on: [api]
    networks: [front]
    deploy: {placement: {constraints: ["node.hostname == ${nodeName(1)}"]}}
`;
}

const problem = netnsProblem();

if (problem) {
  describe('berth compose across hosts', () => {
    it('needs root and iproute2', (t) => {
      if (process.env.CI === 'true') assert.fail(problem);
      t.skip(problem);
    });
  });
} else {
  describe('berth compose across hosts', { timeout: 150_000 }, () => {
    let dir: string;
    let net: NetnsHosts | undefined;
    let server: (BerthProcess & { addr: string }) | undefined;
    const agents: BerthProcess[] = [];
    let webPort = 0;
    const file = (): string => path.join(dir, 'compose.yaml');
    const compose = (args: string[]): Promise<CliResult> =>
      berth(['compose', '-f', file(), ...args], { addr: server!.addr, env: { IMAGE: net!.hosts[0].engine.image }, timeoutMs: 90_000 });
    const docker = (i: number): Docker => connectDocker(net!.hosts[i].engine.host);
    const containers = async (i: number): Promise<Docker.ContainerInfo[]> => docker(i).listContainers({ all: true, filters: JSON.stringify({ label: [`berth.node=${nodeName(i)}`] }) });
    const liveAllocs = async (job: string): Promise<Allocation[]> =>
      ((await (await fetch(`${server!.addr}/v1/jobs/${job}/allocations`)).json()) as Allocation[]).filter((a) => a.desiredStatus === 'run' && a.clientStatus === 'running');
    const front = async (): Promise<string> => (await fetch(`http://${net!.hosts[1].address}:${webPort}/cgi-bin/ask`, { signal: AbortSignal.timeout(5000) })).text().then((t) => t.trim());

    before(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'berth-compose-hosts-'));
      net = await startNetnsHosts({ tag: `ch${id}`, subnet: `10.215.${process.pid % 250}`, bips: ['172.28.11.1/24', '172.28.12.1/24'] });
      server = await startServer(path.join(dir, 'server'), await freePort(), net.rootAddress);
      for (const [i, h] of net.hosts.entries()) {
        agents.push(await startAgent({ servers: [server.addr], dataDir: path.join(dir, `agent-${i}`), nodeName: nodeName(i), driver: 'docker', dockerHost: h.engine.host, netns: h.ns, args: ['--service-addresses'] }));
      }
      webPort = await freePort();
      await writeFile(file(), shopYaml(webPort));
      await eventually('both nodes ready', async () => ((await (await fetch(`${server!.addr}/v1/nodes`)).json()) as { status: string }[]).filter((n) => n.status === 'ready').length === 2);
    });

    after(async () => {
      if (server) await compose(['down']).catch(() => undefined);
      for (const a of agents) await a.stop();
      await server?.stop();
      await net?.stop();
      await rm(dir, { recursive: true, force: true });
    });

    it('comes up in order, the api on host A reaching the db on host B as db:5432', async () => {
      const up = await compose(['up']);
      assert.equal(up.code, 0, up.stderr);
      const at = (line: RegExp): number => up.stderr.split('\n').findIndex((l) => line.test(l));
      const order = [/db +healthy/, /migrate +completed/, /api +running/, /web +running/].map(at);
      assert.ok(order.every((i) => i >= 0), up.stderr);
      assert.deepEqual([...order].sort((a, b) => a - b), order, `out of order:\n${up.stderr}`);
      const nodes = (await (await fetch(`${server!.addr}/v1/nodes`)).json()) as { id: string; name: string }[];
      const [api] = await liveAllocs('shop-api');
      const [db] = await liveAllocs('shop-db');
      assert.equal(nodes.find((n) => n.id === api.nodeId)?.name, nodeName(0));
      assert.equal(nodes.find((n) => n.id === db.nodeId)?.name, nodeName(1));
      assert.equal(await eventually('the front end answering through api and db', async () => ((await front()).endsWith('db-ok') ? front() : undefined), 20_000), 'web -> api-0 -> db-ok');
    });

    it('resolves names only between services that share a network', async () => {
      const [web] = await liveAllocs('shop-web');
      const [c] = await docker(1).listContainers({ filters: JSON.stringify({ label: [`berth.alloc=${web.id}`] }) });
      // nc resolves as applications do (the search path of resolv.conf); busybox's nslookup does not
      // search. Port 1 of a service address refuses: a name that resolves gets "can't connect".
      const resolves = (name: string): string => `nc -w 3 ${name} 1 </dev/null 2>&1 | grep -q "can't connect" && echo found || echo none`;
      const lookup = (name: string): Promise<string> => execIn(docker(1).getContainer(c.Id), ['sh', '-c', resolves(name)]).then((o) => o.trim());
      assert.equal(await lookup('api'), 'found', 'web and api share the front network');
      assert.equal(await lookup('db'), 'none', 'db is on back only');
      assert.equal(await lookup('app'), 'none', "api's alias is on back only");
      const [api] = await liveAllocs('shop-api');
      const [a] = await docker(0).listContainers({ filters: JSON.stringify({ label: [`berth.alloc=${api.id}`] }) });
      assert.equal(await execIn(docker(0).getContainer(a.Id), ['sh', '-c', `${resolves('db')}; ${resolves('app')}`]).then((o) => o.trim()), 'found\nfound');
    });

    it("restarts the api when the db restarts, and answers again", async () => {
      const before = (await liveAllocs('shop-api')).map((a) => a.id);
      const restart = await compose(['restart', 'db']);
      assert.equal(restart.code, 0, restart.stderr);
      await eventually('the api replaced after the db restarted', async () => {
        const now = (await liveAllocs('shop-api')).map((a) => a.id);
        return now.length === 1 && !before.includes(now[0]);
      }, 30_000);
      assert.equal(await eventually('the front end answering again', async () => ((await front().catch(() => '')).endsWith('db-ok') ? front() : undefined), 20_000), 'web -> api-0 -> db-ok');
    });

    it('scales the api, and the front end reaches every copy by name', async () => {
      const scale = await compose(['scale', 'api=2']);
      assert.equal(scale.code, 0, scale.stderr);
      const seen = new Set<string>();
      await eventually('both api copies answering', async () => {
        seen.add(await front().catch(() => ''));
        return seen.has('web -> api-0 -> db-ok') && seen.has('web -> api-1 -> db-ok');
      }, 30_000);
    });

    it('goes down leaving no job and no container on either host', async () => {
      const down = await compose(['down']);
      assert.equal(down.code, 0, down.stderr);
      assert.deepEqual(((await (await fetch(`${server!.addr}/v1/jobs`)).json()) as unknown[]).length, 0);
      for (const i of [0, 1]) await eventually(`no container left on host ${'ab'[i]}`, async () => (await containers(i)).length === 0, 20_000);
    });
  });
}

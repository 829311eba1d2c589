/**
 * `berth compose` end to end on the shared real dockerd: a three-tier project (a database with a
 * healthcheck, a one-shot migration, an API needing both, a front end with a published port) comes
 * up in order, answers through the front end, scales, plans an edit exactly, and goes down leaving
 * no container. A server and an agent run as real processes; the agent advertises the docker
 * bridge's gateway so that containers reach each other's host ports (service addresses across
 * hosts are another branch's). Also: a failing migration fails `up` naming it, and every file of
 * the awesome-compose corpus goes through `compose plan` against the server.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type Docker from 'dockerode';
import { BerthClient } from '../../src/api/index.ts';
import { loadProject, mapProject } from '../../src/compose/index.ts';
import { connectDocker } from '../../src/drivers/index.ts';
import { berth, eventually, freePort, type CliResult } from '../harness/berth.ts';
import { startAgent, startServer, type BerthProcess } from '../harness/cluster.ts';
import { withDockerEngine } from '../harness/dockerd.ts';

/** The project: `$$` keeps a `$` for the container's shell, `${...}` is Compose's interpolation. */
function shopYaml(version: string): string {
  return `name: shop
x-busybox: &busybox
  image: \${IMAGE}
  pull_policy: never
  stop_grace_period: 1s
services:
  db:
    <<: *busybox
    command: ["sh", "-c", "sleep 1; mkdir -p /www && echo db-ok > /www/index.html && exec httpd -f -p 5432 -h /www"]
    expose: ["5432"]
    healthcheck:
      test: ["CMD-SHELL", "wget -q -O- http://127.0.0.1:5432/ | grep -q db-ok"]
      interval: 300ms
      retries: 2
  migrate:
    <<: *busybox
    restart: "no"
    command: sh -c 'echo migrating schema $$SCHEMA; sleep 1; echo migrated'
    environment:
      SCHEMA: \${SCHEMA:-v1}
    depends_on:
      db: {condition: service_healthy}
  api:
    <<: *busybox
    command: ["sh", "-c", "mkdir -p /www && echo api $$VERSION $$BERTH_ALLOC_INDEX > /www/index.html && exec httpd -f -p 8080 -h /www"]
    environment:
      VERSION: ${version}
    expose: ["8080"]
    depends_on:
      db: {condition: service_healthy}
      migrate: {condition: service_completed_successfully}
  web:
    <<: *busybox
    command:
      - sh
      - -c
      - |
        mkdir -p /www/cgi-bin
        printf 'Content-Type: text/plain\\r\\n\\r\\n' > /www/head
        printf '#!/bin/sh\\ncat /www/head\\nfor a in $$(cat /local/api); do wget -q -O- http://$$a/ && exit 0; done\\necho no api\\n' > /www/cgi-bin/api
        chmod +x /www/cgi-bin/api
        exec httpd -f -p 80 -h /www
    ports: ["\${WEB_PORT}:80"]
    depends_on: [api]
    x-berth:
      task:
        templates:
          - data: '{{#each (service "api")}}{{Address}}:{{Port}} {{/each}}'
            destination: local/api
            change_mode: noop
`;
}

/** A migration that fails, and an API that must not start without it. */
const BROKEN = `name: broken
services:
  migrate: {image: "\${IMAGE}", pull_policy: never, restart: "no", command: sh -c 'echo schema locked >&2; exit 3'}
  api: {image: "\${IMAGE}", pull_policy: never, command: sleep 600, depends_on: {migrate: {condition: service_completed_successfully}}}
`;

withDockerEngine('berth compose on docker', (engine) => {
  describe('berth compose on docker', { timeout: 150_000 }, () => {
    const docker: Docker = connectDocker(engine.host);
    let dir: string;
    let server: BerthProcess & { addr: string };
    let agent: BerthProcess;
    let gateway: string;
    let webPort: number;
    /** Unique on the shared dockerd: its containers carry it as their berth.node label. */
    const nodeName = `compose-e2e-${process.pid}`;
    const file = (): string => path.join(dir, 'compose.yaml');
    const compose = (args: string[], f = file()): Promise<CliResult> =>
      berth(['compose', '-f', f, ...args], { addr: server.addr, env: { IMAGE: engine.image, WEB_PORT: String(webPort), DOCKER_HOST: engine.host }, timeoutMs: 90_000 });
    const containers = async (): Promise<Docker.ContainerInfo[]> => docker.listContainers({ all: true, filters: JSON.stringify({ label: [`berth.node=${nodeName}`] }) });
    const front = async (): Promise<string> => (await fetch(`http://${gateway}:${webPort}/cgi-bin/api`, { signal: AbortSignal.timeout(3000) })).text();

    before(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'berth-compose-'));
      const bridge = await docker.getNetwork('bridge').inspect();
      gateway = bridge.IPAM?.Config?.[0]?.Gateway ?? assert.fail('the bridge network has no gateway');
      webPort = await freePort();
      server = await startServer(path.join(dir, 'server'));
      agent = await startAgent({ servers: [server.addr], dataDir: path.join(dir, 'agent'), nodeName, driver: 'docker', dockerHost: engine.host, args: ['--address', gateway] });
      const client = new BerthClient({ address: server.addr });
      await eventually('the node ready', async () => (await client.listNodes()).value.find((n) => n.status === 'ready'));
      await writeFile(file(), shopYaml('v1'));
    });

    after(async () => {
      await compose(['down']).catch(() => undefined);
      await compose(['down'], path.join(dir, 'broken.yaml')).catch(() => undefined);
      await agent?.stop();
      await server?.stop();
      // Whatever a failed test left, so the shared dockerd stays clean.
      await Promise.all((await containers()).map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
      await rm(dir, { recursive: true, force: true });
    });

    it('comes up in dependency order and answers through the front end', async () => {
      const up = await compose(['up']);
      assert.equal(up.code, 0, up.stderr);
      const at = (line: RegExp): number => up.stderr.split('\n').findIndex((l) => line.test(l));
      const order = [/db +healthy/, /migrate +registered/, /migrate +completed/, /api +registered/, /api +running/, /web +registered/, /web +running/].map(at);
      assert.ok(order.every((i) => i >= 0), up.stderr);
      assert.deepEqual([...order].sort((a, b) => a - b), order, `out of order:\n${up.stderr}`);
      assert.match(await eventually('the front end reaching the api', async () => ((await front()).startsWith('api v1') ? front() : undefined)), /^api v1 0/);
      const logs = await compose(['logs', 'migrate']);
      assert.match(logs.stdout, /^migrate-1 +\| migrating schema v1$/m);
    });

    it('changes nothing when up runs again on the unchanged file', async () => {
      const again = await compose(['up', '-d']);
      assert.equal(again.code, 0, again.stderr);
      assert.equal((again.stderr.match(/ unchanged$/gm) ?? []).length, 4, again.stderr);
      const plan = await compose(['plan']);
      assert.equal(plan.code, 0, plan.stdout);
      assert.match(plan.stdout, /No changes\./);
    });

    it('plans an edit as exactly that change', async () => {
      await writeFile(file(), shopYaml('v2'));
      try {
        const plan = await compose(['plan']);
        assert.equal(plan.code, 1, plan.stderr);
        assert.match(plan.stdout, /^Start order: db -> migrate -> api -> web$/m);
        assert.deepEqual(plan.stdout.split('\n').filter((l) => /^[=~+-] /.test(l)).map((l) => l.split(' (')[0]), ['= db', '= migrate', '~ api', '= web']);
        assert.deepEqual(plan.stdout.split('\n').filter((l) => /^ +[~+-] [a-z]/.test(l) && !/group|task/.test(l)).map((l) => l.trim()), ['~ env.VERSION: "v1" => "v2"']);
      } finally {
        await writeFile(file(), shopYaml('v1'));
      }
    });

    it('scales a service, and the front end sees every copy', async () => {
      const scale = await compose(['scale', 'api=2']);
      assert.equal(scale.code, 0, scale.stderr);
      await eventually('two api copies running', async () => (await compose(['ps', 'api'])).stdout.match(/ running /g)?.length === 2, 30_000);
      const seen = await eventually('the front end told of both', async () => {
        const out = (await compose(['exec', '-T', 'web', 'cat', '/local/api'])).stdout.trim().split(/\s+/);
        return out.length === 2 ? out : undefined;
      }, 30_000);
      assert.ok(seen.every((a) => a.startsWith(`${gateway}:`)), seen.join(' '));
      const restart = await compose(['restart', 'api']);
      assert.match(restart.stderr, /api +restarted \(2\)/);
    });

    it('fails up naming the one-shot service that failed, and starts nothing that needs it', async () => {
      const broken = path.join(dir, 'broken.yaml');
      await writeFile(broken, BROKEN);
      const up = await compose(['up'], broken);
      assert.equal(up.code, 1, up.stderr);
      assert.match(up.stderr, /Service "migrate" failed: .*exit code 3/);
      assert.equal((await new BerthClient({ address: server.addr }).listJobs()).value.some((j) => j.id === 'broken-api'), false);
      assert.equal((await compose(['down'], broken)).code, 0);
    });

    it('builds an image on the node, mounts tmpfs and a secret at Compose\'s paths, and down -v removes its volume', async () => {
      const project = `extras${process.pid}`;
      const f = path.join(dir, 'extras', 'compose.yaml');
      await mkdir(path.join(dir, 'extras', 'app'), { recursive: true });
      await writeFile(path.join(dir, 'extras', 'app', 'Dockerfile'), `FROM ${engine.image}\nARG GREETING=none\nCOPY motd /motd\nRUN echo "$GREETING" > /hello.txt\n`);
      await writeFile(path.join(dir, 'extras', 'app', 'motd'), 'from the context\n');
      await writeFile(path.join(dir, 'extras', 'token.txt'), 's3cret\n');
      await writeFile(f, `name: ${project}
services:
  app:
    build: {context: ./app, args: {GREETING: built-here}}
    command: ["sh", "-c", "cat /hello.txt /motd /run/secrets/token; grep ' /scratch ' /proc/mounts | cut -d' ' -f3; echo kept > /data/x; exec sleep 600"]
    stop_grace_period: 1s
    tmpfs: /scratch
    secrets: [token]
    volumes: [data:/data]
secrets: {token: {file: ./token.txt}}
volumes: {data: {}}
`);
      try {
        const up = await compose(['up'], f);
        assert.equal(up.code, 0, up.stderr);
        assert.match(up.stderr, new RegExp(`app +built \\(image ${project}-app on node ${nodeName}\\)`));
        const out = await eventually('the app to print', async () => {
          const logs = (await compose(['logs', 'app'], f)).stdout;
          return /tmpfs/.test(logs) && logs;
        });
        assert.match(out, /\| built-here\n.*\| from the context\n.*\| s3cret\n.*\| tmpfs$/m);
        await docker.getVolume(`${project}_data`).inspect();
        const again = await compose(['up', '-d'], f);
        assert.doesNotMatch(again.stderr, /building/, 'an image already there is not built again');
        const down = await compose(['down', '-v'], f);
        assert.equal(down.code, 0, down.stderr);
        assert.match(down.stderr, new RegExp(`volume ${project}_data +removed`));
        await assert.rejects(docker.getVolume(`${project}_data`).inspect(), /no such volume/i);
      } finally {
        await compose(['down'], f).catch(() => undefined);
        await docker.getImage(`${project}-app`).remove({ force: true }).catch(() => undefined);
        await docker.getVolume(`${project}_data`).remove().catch(() => undefined);
      }
    });

    it('goes down leaving no job and no container', async () => {
      const down = await compose(['down']);
      assert.equal(down.code, 0, down.stderr);
      assert.equal((await new BerthClient({ address: server.addr }).listJobs()).value.length, 0);
      await eventually('every container removed', async () => (await containers()).length === 0, 20_000).catch(async (err: Error) => {
        throw new Error(`${err.message}; left: ${JSON.stringify((await containers()).map((c) => [c.Names[0], c.State, c.Labels['berth.alloc']]))}`);
      });
      const ls = await berth(['compose', 'ls'], { addr: server.addr });
      assert.doesNotMatch(ls.stdout, /shop/);
    });

    it('plans every file of the awesome-compose corpus against the server', async () => {
      const root = path.resolve(import.meta.dirname, '../fixtures/awesome-compose');
      const read = (f: string): string | undefined => (fs.existsSync(f) && fs.statSync(f).isFile() ? fs.readFileSync(f, 'utf8') : undefined);
      const client = new BerthClient({ address: server.addr });
      // In process, as `compose plan` does it: a CLI process per file would cost a second each.
      for (const d of fs.readdirSync(root).filter((x) => fs.statSync(path.join(root, x)).isDirectory())) {
        const loaded = loadProject({ cwd: path.join(root, d), read, environment: {} });
        assert.ok(loaded.ok, d);
        for (const job of mapProject(loaded.project, { read }).jobs) {
          const plan = await client.planJob(job.jobId, job.spec, 'json');
          assert.equal(plan.changed, true, `${d}: ${job.jobId}`);
        }
      }
      // And one through the CLI, its warnings each naming a key.
      const dir = path.join(root, 'nginx-golang-postgres');
      const r = await berth(['compose', '-f', path.join(dir, 'compose.yaml'), 'plan'], { addr: server.addr });
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stdout, /^Start order: db -> backend -> proxy$/m);
      for (const w of r.stderr.split('\n').filter(Boolean)) assert.match(w, /^Warning: services\.[^.]+\.[a-z_]+/);
      const strict = await berth(['compose', '-f', path.join(root, 'nginx-flask-mysql', 'compose.yaml'), '--strict', 'convert']);
      assert.equal(strict.code, 1);
      assert.match(strict.stderr, /does not honour \(--strict\):\n/);
      assert.match(strict.stderr, /^ {2}networks: names only: /m);
      assert.equal(strict.stdout, '');
    });
  });
});

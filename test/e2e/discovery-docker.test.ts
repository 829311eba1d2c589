import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type Docker from 'dockerode';
import type { Allocation } from '../../src/model/index.ts';
import { connectDocker } from '../../src/drivers/index.ts';
import { berth, eventually, freePort, startDev, type DevProcess } from '../harness/berth.ts';
import { execIn, withDockerEngine } from '../harness/dockerd.ts';

/** Check interval of the web service: the bound on how fast a failure shows. */
const INTERVAL_MS = 500;

/** Two httpd instances with an http check, and a client container to resolve them from. */
function jobSpec(image: string): string {
  return `
id: disco
groups:
  - name: web
    count: 2
    ports: [{label: http, to: 8080}]
    services:
      - name: web
        port: http
        tags: [v1]
        checks:
          - type: http
            path: /index.html
            interval: ${INTERVAL_MS}ms
            timeout: 400ms
    tasks:
      - name: httpd
        driver: docker
        config:
          image: ${image}
          command: /bin/sh
          # httpd without -f runs in the background, so the test can stop and start it inside.
          args: ["-c", "mkdir -p /www && echo ok-$BERTH_ALLOC_INDEX > /www/index.html && httpd -p 8080 -h /www && exec sleep 3600"]
        resources: {cpu: 50m, memory: 16Mi}
        kill_timeout: 1s
  - name: client
    tasks:
      - name: sleep
        driver: docker
        config: {image: ${image}, command: /bin/sleep, args: ["3600"]}
        resources: {cpu: 50m, memory: 16Mi}
        kill_timeout: 1s
`;
}

withDockerEngine('service discovery on docker', (engine) => {
  const docker: Docker = connectDocker(engine.host);
  const containerOf = async (allocId: string): Promise<Docker.Container> => {
    const [c] = await docker.listContainers({ filters: JSON.stringify({ label: [`berth.alloc=${allocId}`], status: ['running'] }) });
    assert.ok(c, `a running container for ${allocId}`);
    return docker.getContainer(c.Id);
  };
  const exec = execIn;

  describe('service discovery on docker', { timeout: 150_000 }, () => {
    let dev: DevProcess;
    let dnsPort: number;
    let dir: string;
    let web: Allocation[] = [];
    let client: Allocation;
    const resolver = new Resolver({ timeout: 500, tries: 2 });

    const srvPorts = async (): Promise<number[]> => {
      try {
        return (await resolver.resolveSrv('_web._tcp.service.berth')).map((s) => s.port).sort();
      } catch {
        return [];
      }
    };
    const passingPorts = async (): Promise<number[]> => {
      const res = await fetch(`${dev.addr}/v1/health/service/web?passing`);
      return ((await res.json()) as { Service: { Port: number } }[]).map((e) => e.Service.Port).sort();
    };

    before(async () => {
      dnsPort = await freePort();
      dev = await startDev({ driver: 'docker', dockerHost: engine.host, args: ['--dns-addr', `127.0.0.1:${dnsPort}`, '--dns-bridge', 'auto'] });
      resolver.setServers([`127.0.0.1:${dnsPort}`]);
      dir = await mkdtemp(path.join(tmpdir(), 'berth-disco-'));
      await writeFile(path.join(dir, 'disco.yaml'), jobSpec(engine.image));
      const run = await berth(['job', 'run', '--detach', path.join(dir, 'disco.yaml')], { addr: dev.addr });
      assert.equal(run.code, 0, run.stderr);
      const allocs = await eventually('3 running allocations', async () => {
        const res = await fetch(`${dev.addr}/v1/jobs/disco/allocations`);
        const all = ((await res.json()) as Allocation[]).filter((a) => a.clientStatus === 'running');
        return all.length === 3 ? all : undefined;
      }, 60_000);
      web = allocs.filter((a) => a.group === 'web');
      client = allocs.find((a) => a.group === 'client')!;
    });

    after(async () => {
      if (dev) await berth(['job', 'stop', '--purge', '--detach', 'disco'], { addr: dev.addr }).catch(() => undefined);
      await eventually('the containers gone', async () => (await docker.listContainers({ all: true, filters: JSON.stringify({ label: ['berth.alloc'] }) })).every((c) => !web.concat(client ?? []).some((a) => c.Labels['berth.alloc'] === a.id)), 30_000).catch(() => undefined);
      await dev?.cleanup();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('passing instances answer over DNS (SRV with host ports) and the health API', async () => {
      const want = web.map((a) => a.ports[0].value).sort();
      await eventually('both instances passing in DNS', async () => JSON.stringify(await srvPorts()) === JSON.stringify(want), 20_000);
      assert.deepEqual(await passingPorts(), want);
      const list = await berth(['service', 'info', 'web'], { addr: dev.addr });
      assert.equal(list.code, 0, list.stderr);
      assert.match(list.stdout, /passing/);
      assert.match(list.stdout, /HTTP GET .*200 OK/);
      const q = await berth(['dns', 'query', '_web._tcp.service.berth', 'SRV', '--server', `127.0.0.1:${dnsPort}`]);
      assert.equal(q.code, 0, q.stderr);
      assert.match(q.stdout, /status: NOERROR, 2 answers/);
    });

    it(`a failing check takes the instance out of DNS and ?passing within interval + 100 ms, and it comes back`, async () => {
      const victim = web[0];
      const port = victim.ports[0].value;
      const c = await containerOf(victim.id);
      await exec(c, ['killall', 'httpd']);
      const stoppedAt = Date.now();
      let goneFromDns = 0;
      let goneFromHealth = 0;
      while (Date.now() - stoppedAt < 5000 && (!goneFromDns || !goneFromHealth)) {
        const [dnsPorts, healthPorts] = await Promise.all([srvPorts(), passingPorts()]);
        if (!goneFromDns && dnsPorts.length > 0 && !dnsPorts.includes(port)) goneFromDns = Date.now() - stoppedAt;
        if (!goneFromHealth && !healthPorts.includes(port)) goneFromHealth = Date.now() - stoppedAt;
        await new Promise((r) => setTimeout(r, 5));
      }
      assert.ok(goneFromDns > 0 && goneFromDns <= INTERVAL_MS + 100, `out of DNS after ${goneFromDns} ms`);
      assert.ok(goneFromHealth > 0 && goneFromHealth <= INTERVAL_MS + 100, `out of ?passing after ${goneFromHealth} ms`);
      await exec(c, ['httpd', '-p', '8080', '-h', '/www']);
      await eventually('the instance back in DNS', async () => (await srvPorts()).includes(port), 5000);
      assert.ok((await passingPorts()).includes(port));
    });

    it('a container resolves web.service.berth through berth DNS and fetches from it', async () => {
      const c = await containerOf(client.id);
      const port = web[1].ports[0].value;
      const lookup = await eventually('nslookup inside the container', async () => {
        const out = await exec(c, ['nslookup', 'web.service.berth']);
        return /Address:.*\d+\.\d+\.\d+\.\d+/.test(out.split('Name:')[1] ?? '') ? out : undefined;
      }, 10_000);
      assert.match(lookup, /web\.service\.berth/);
      const body = await exec(c, ['wget', '-q', '-O', '-', `http://web.service.berth:${port}/index.html`]);
      assert.match(body, /ok-\d/);
    });
  });
});

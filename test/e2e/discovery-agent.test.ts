/**
 * A standalone `berth server` and `berth agent` on the test dockerd: services with
 * `address_mode: driver` advertise the container's own address and port, and `--task-dns` points
 * the containers' resolver at berth's DNS.
 */
import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type Docker from 'dockerode';
import type { Allocation } from '../../src/model/index.ts';
import { connectDocker } from '../../src/drivers/index.ts';
import { berth, eventually, freePort } from '../harness/berth.ts';
import { startAgent, startServer, type BerthProcess } from '../harness/cluster.ts';
import { execIn, withDockerEngine } from '../harness/dockerd.ts';

/** Where the agent points its containers' DNS (TEST-NET-1: nothing answers there, only its presence is checked). */
const TASK_DNS = '192.0.2.53';

/** One httpd with the same port advertised three ways. */
function jobSpec(image: string): string {
  return `
id: addr-modes
groups:
  - name: web
    ports: [{label: http, to: 8080}]
    tasks:
      - name: httpd
        driver: docker
        config:
          image: ${image}
          command: /bin/sh
          args: ["-c", "mkdir -p /www && echo direct > /www/index.html && exec httpd -f -p 8080 -h /www"]
        resources: {cpu: 50m, memory: 16Mi}
        kill_timeout: 1s
        services:
          - {name: am-host, port: http}
          - {name: am-driver, port: http, address_mode: driver}
          - {name: am-auto, port: http, address_mode: auto}
`;
}

withDockerEngine('berth agent with docker: address modes and task DNS', (engine) => {
  const docker: Docker = connectDocker(engine.host);
  const exec = execIn;

  describe('berth agent with docker: address modes and task DNS', { timeout: 120_000 }, () => {
    let dir: string;
    let server: BerthProcess & { addr: string };
    let agent: BerthProcess;
    let alloc: Allocation;
    let container: Docker.Container;
    let containerIp: string;
    const resolver = new Resolver({ timeout: 500, tries: 2 });

    /** The catalog's one instance of a service: where it says to go. */
    const advertised = async (name: string): Promise<{ address: string; port: number }> => {
      const [entry] = (await (await fetch(`${server.addr}/v1/catalog/service/${name}`)).json()) as { ServiceAddress: string; ServicePort: number }[];
      assert.ok(entry, `an instance of ${name}`);
      return { address: entry.ServiceAddress, port: entry.ServicePort };
    };

    before(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'berth-disco-agent-'));
      const dnsPort = await freePort();
      server = await startServer(path.join(dir, 'server'), undefined, '127.0.0.1', ['--dns-addr', `127.0.0.1:${dnsPort}`]);
      resolver.setServers([`127.0.0.1:${dnsPort}`]);
      agent = await startAgent({ servers: [server.addr], dataDir: path.join(dir, 'agent'), nodeName: 'am-node', driver: 'docker', dockerHost: engine.host, args: ['--task-dns', TASK_DNS] });
      await writeFile(path.join(dir, 'job.yaml'), jobSpec(engine.image));
      const run = await berth(['job', 'run', '--detach', path.join(dir, 'job.yaml')], { addr: server.addr });
      assert.equal(run.code, 0, run.stderr);
      alloc = await eventually('the allocation running', async () => {
        const all = (await (await fetch(`${server.addr}/v1/jobs/addr-modes/allocations`)).json()) as Allocation[];
        return all.find((a) => a.clientStatus === 'running');
      }, 60_000);
      const [c] = await docker.listContainers({ filters: JSON.stringify({ label: [`berth.alloc=${alloc.id}`], status: ['running'] }) });
      assert.ok(c, 'a running container');
      container = docker.getContainer(c.Id);
      containerIp = (await container.inspect()).NetworkSettings.Networks.bridge.IPAddress;
      assert.match(containerIp, /^\d+\.\d+\.\d+\.\d+$/);
    });

    after(async () => {
      if (server) await berth(['job', 'stop', '--purge', '--detach', 'addr-modes'], { addr: server.addr }).catch(() => undefined);
      if (alloc) await eventually('the container gone', async () => (await docker.listContainers({ all: true, filters: JSON.stringify({ label: [`berth.alloc=${alloc.id}`] }) })).length === 0, 30_000).catch(() => undefined);
      await agent?.stop();
      await server?.stop();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it("address_mode driver advertises the container's IP and port; host and auto (default bridge) the node's", async () => {
      const hostPort = alloc.ports.find((p) => p.label === 'http')!.value;
      assert.deepEqual(await eventually('am-driver registered', () => advertised('am-driver').catch(() => undefined)), { address: containerIp, port: 8080 });
      assert.deepEqual(await advertised('am-host'), { address: '127.0.0.1', port: hostPort });
      assert.deepEqual(await advertised('am-auto'), { address: '127.0.0.1', port: hostPort });
      // DNS hands out the same: SRV with the container port, A with the container's address.
      assert.deepEqual((await resolver.resolveSrv('_am-driver._tcp.service.berth')).map((s) => s.port), [8080]);
      assert.deepEqual(await resolver.resolve4('am-driver.service.berth'), [containerIp]);
      // And httpd answers there (asked from inside, over the bridge address).
      const body = await exec(container, ['wget', '-q', '-O', '-', `http://${containerIp}:8080/index.html`]);
      assert.equal(body.trim(), 'direct');
    });

    it('--task-dns makes the containers resolve through the given server', async () => {
      const resolvConf = await exec(container, ['cat', '/etc/resolv.conf']);
      assert.match(resolvConf, new RegExp(`^nameserver ${TASK_DNS.replace(/\./g, '\\.')}$`, 'm'));
      assert.doesNotMatch(resolvConf, /^nameserver (?!192\.0\.2\.53$)/m);
    });

    it('--task-dns with a port or a name is refused before the agent starts', async () => {
      const bad = await berth(['agent', '--server', server.addr, '--data-dir', path.join(dir, 'bad'), '--task-dns', '10.0.0.1:53']);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /--task-dns.*expected an IP address or auto, got "10\.0\.0\.1:53"/);
    });
  });
});

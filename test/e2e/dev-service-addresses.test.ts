/**
 * `berth dev --service-addresses`, for real, in a network namespace of its own (so that the /32
 * it adds to lo and the ports it binds touch nothing else on this host): a process task's service
 * answers at its service address on the port label's `to`, and the combination with
 * `--dns-bridge` (both want the bridge's port 53) is refused before anything starts.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ServiceAddress } from '../../src/model/index.ts';
import { berth, eventually, freePort } from '../harness/berth.ts';
import { launch, type BerthProcess } from '../harness/cluster.ts';
import { ip, netnsProblem } from '../harness/netns.ts';

const id = process.pid % 100000;
const ns = `berth-dsa-${id}`;
const veth = `bdsa${id}`;
const subnet = `10.215.${process.pid % 250}`;
const problem = netnsProblem();

describe('berth dev --service-addresses', { timeout: 90_000 }, () => {
  it('refuses --dns-bridge with it, saying which to drop, and starts nothing', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'berth-dsa-'));
    try {
      const res = await berth(['dev', '--service-addresses', '--dns-bridge', '10.0.0.1', '--data-dir', dir, '--http-addr', `127.0.0.1:${await freePort()}`]);
      assert.equal(res.code, 2, res.stderr);
      assert.match(res.stderr, /--service-addresses and --dns-bridge both serve DNS on the docker bridge's port 53; drop --dns-bridge/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  if (problem) {
    it('serves a process task at its service address', (t) => {
      if (process.env.CI === 'true') assert.fail(problem);
      t.skip(problem);
    });
    return;
  }

  describe('in a network namespace', () => {
    let dir: string;
    let dev: BerthProcess | undefined;
    let addr = '';

    before(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'berth-dsa-'));
      ip('netns', 'add', ns);
      ip('link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
      ip('addr', 'add', `${subnet}.1/30`, 'dev', veth);
      ip('link', 'set', veth, 'up');
      ip('-n', ns, 'addr', 'add', `${subnet}.2/30`, 'dev', 'eth0');
      ip('-n', ns, 'link', 'set', 'eth0', 'up');
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      const port = await freePort();
      addr = `http://${subnet}.2:${port}`;
      dev = launch(['dev', '--service-addresses', '--driver', 'process', '--data-dir', dir, '--http-addr', `${subnet}.2:${port}`], {}, ns);
      await eventually('the dev node to be ready', async () => {
        if (dev!.child.exitCode !== null) throw new Error(`berth dev exited with ${dev!.child.exitCode}:\n${dev!.logs()}`);
        const nodes = (await (await fetch(`${addr}/v1/nodes`)).json().catch(() => [])) as { status: string }[];
        return nodes.some((n) => n.status === 'ready');
      }, 30_000);
    });

    after(async () => {
      if (dev) {
        await berth(['job', 'stop', 'web', '--purge', '--detach'], { addr }).catch(() => undefined);
        await dev.stop();
      }
      try {
        ip('netns', 'del', ns);
      } catch {
        // Never made.
      }
      await rm(dir, { recursive: true, force: true });
    });

    it('serves a process task at its service address, on the port label\'s to, added to lo as a /32', async () => {
      const file = path.join(dir, 'web.yaml');
      await writeFile(
        file,
        `id: web
groups:
  - name: web
    ports: [{label: http, to: 8080}]
    services:
      - name: web
        port: http
        checks: [{type: http, path: /, interval: 500ms, timeout: 400ms}]
    tasks:
      - name: httpd
        driver: process
        config: {command: /bin/sh, args: ["-c", "mkdir -p www && echo hello from $BERTH_ALLOC_ID > www/index.html && exec busybox httpd -f -p $BERTH_PORT_http -h www"]}
`,
      );
      const run = await berth(['job', 'run', file], { addr });
      assert.equal(run.code, 0, run.stderr + run.stdout);
      const web = await eventually('web to have a service address', async () => ((await (await fetch(`${addr}/v1/service-addresses`)).json()) as ServiceAddress[]).find((a) => a.service === 'web'));
      assert.deepEqual(web.ports, [8080]);
      await eventually(`${web.address}/32 on lo in the namespace`, async () => execFileSync('ip', ['-n', ns, '-4', 'addr', 'show', 'dev', 'lo'], { encoding: 'utf8' }).includes(`${web.address}/32`));
      const body = await eventually(`http://${web.address}:8080/ to answer from inside the namespace`, async () => {
        try {
          const get = `fetch('http://${web.address}:8080/', { signal: AbortSignal.timeout(2000) }).then((r) => r.text()).then((t) => process.stdout.write(t))`;
          return execFileSync('ip', ['netns', 'exec', ns, process.execPath, '-e', get], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
        } catch {
          return undefined;
        }
      });
      assert.match(body, /^hello from [0-9a-f-]{36}$/m);
    });
  });
});

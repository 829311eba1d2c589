/**
 * bench/compose.ts: the same 10-service Compose project brought up by `berth compose up -d` and by
 * Debian's `docker-compose` (1.29, the Compose v1 Python program; no Compose v2 binary is packaged
 * here) on the same dockerd, timed from the command's start to every service running, twice:
 *   flat   10 independent services
 *   chain  10 services each depending on the one before with `condition: service_healthy`, each
 *          with a healthcheck: timed to all healthy
 * berth runs as a server and an agent in this process (SQLite state, docker driver); the CLI is
 * the built bin/berth.js, as a user runs it (`npm run build` first).
 *
 *   BERTH_TEST_DOCKER_HOST=... npx tsx bench/compose.ts [--quick]
 * The last line printed is {"flat": {"berth_s","compose_s","ratio"}, "chain": {...}, "compose_version"}.
 */
import { execFile, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { promisify } from 'node:util';
import { startDockerd } from '../test/harness/dockerd.ts';
import { connectDocker } from '../src/drivers/index.ts';
import { Server, openSqliteState } from '../src/server/index.ts';
import { Agent } from '../src/agent/index.ts';
import { BerthClient } from '../src/api/index.ts';
import { silentLogger } from '../src/lib/index.ts';

const run = promisify(execFile);
const { values } = parseArgs({ options: { quick: { type: 'boolean' } } });
const quick = values.quick ?? false;
const N = 10;
const root = path.resolve(import.meta.dirname, '..');
const env = await startDockerd();
const docker = connectDocker(env.host);
const log = (s: string): void => void process.stderr.write(s + '\n');

/** The project: every service an httpd; in the chain each needs the one before healthy. */
function projectYaml(chain: boolean): string {
  const lines = ['services:'];
  for (let i = 0; i < N; i++) {
    lines.push(`  s${i}:`, `    image: ${env.image}`, '    command: ["httpd", "-f", "-p", "8080"]', '    stop_grace_period: 1s');
    if (chain) {
      lines.push('    healthcheck:', '      test: ["CMD-SHELL", "nc 127.0.0.1 8080 </dev/null"]', '      interval: 500ms', '      timeout: 2s', '      retries: 3');
      if (i > 0) lines.push('    depends_on:', `      s${i - 1}: {condition: service_healthy}`);
    }
  }
  return lines.join('\n') + '\n';
}

async function until(what: string, done: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 180_000;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** docker-compose up -d, then every container running (healthy for the chain); seconds. */
async function composeOnce(file: string, chain: boolean): Promise<number> {
  const project = `bc${chain ? 'chain' : 'flat'}`;
  const envs = { ...process.env, DOCKER_HOST: env.host, COMPOSE_PROJECT_NAME: project };
  const t0 = performance.now();
  await run('docker-compose', ['-f', file, 'up', '-d'], { env: envs });
  await until('docker-compose services', async () => {
    const list = await docker.listContainers({ filters: { label: [`com.docker.compose.project=${project}`] } });
    return list.length === N && list.every((c) => c.State === 'running' && (!chain || c.Status.includes('(healthy)')));
  });
  const s = (performance.now() - t0) / 1000;
  await run('docker-compose', ['-f', file, 'down', '-t', '1'], { env: envs });
  return s;
}

/** berth compose up -d against an in-process server and agent, then every allocation running (passing for the chain). */
async function berthOnce(file: string, chain: boolean): Promise<number> {
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-bench-compose-'));
  const logger = silentLogger();
  const server = await Server.start({ backend: await openSqliteState(dir), logger, port: 0 });
  const agent = await Agent.start({ serverUrl: server.url, dataDir: path.join(dir, 'agent'), logger, nodeName: 'bench-compose', dockerHost: env.host, defaultDriver: 'docker' });
  const client = new BerthClient({ address: server.url });
  const project = `bb${chain ? 'chain' : 'flat'}`;
  const cli = (args: string[]): Promise<unknown> => run(process.execPath, [path.join(root, 'bin/berth.js'), 'compose', '-f', file, '-p', project, ...args], { env: { ...process.env, BERTH_ADDR: server.url } });
  try {
    const t0 = performance.now();
    await cli(['up', '-d']);
    await until('berth services', async () => {
      for (let i = 0; i < N; i++) {
        const { value } = await client.jobAllocations(`${project}-s${i}`);
        if (!value.some((a) => a.clientStatus === 'running')) return false;
      }
      if (!chain) return true;
      const health = await Promise.all(Array.from({ length: N }, async (_, i) => (await fetch(`${server.url}/v1/health/service/s${i}?passing`)).json() as Promise<unknown[]>));
      return health.every((h) => h.length > 0);
    });
    const s = (performance.now() - t0) / 1000;
    await cli(['down']);
    return s;
  } finally {
    await agent.stop();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

const version = spawnSync('docker-compose', ['version', '--short'], { encoding: 'utf8' }).stdout.trim();
if (!version) throw new Error('docker-compose is not installed: apt-get install docker-compose');
const dir = await mkdtemp(path.join(tmpdir(), 'bench-compose-'));
const result: Record<string, unknown> = { compose_version: `docker-compose ${version} (Debian)`, quick };
for (const chain of [false, true]) {
  const file = path.join(dir, chain ? 'chain.yaml' : 'flat.yaml');
  await writeFile(file, projectYaml(chain));
  const rounds = quick ? 1 : 3;
  let b = Infinity;
  let c = Infinity;
  for (let r = 0; r < rounds; r++) {
    c = Math.min(c, await composeOnce(file, chain));
    b = Math.min(b, await berthOnce(file, chain));
  }
  log(`${chain ? 'chain' : 'flat '}: berth ${b.toFixed(2)} s, docker-compose ${c.toFixed(2)} s, ratio ${(b / c).toFixed(2)}`);
  result[chain ? 'chain' : 'flat'] = { berth_s: +b.toFixed(3), compose_s: +c.toFixed(3), ratio: +(b / c).toFixed(3) };
}
await rm(dir, { recursive: true, force: true });
await env.stop();
console.log(JSON.stringify(result));

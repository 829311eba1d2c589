/**
 * A highly available berth for tests and benches: a real three-member etcd cluster on loopback
 * ports, N `berth server --etcd` processes and M `berth agent` processes (process driver) that
 * are given every server's URL. Helpers say who leads, kill a server with SIGKILL, restart one,
 * and stop or start an etcd member.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BerthClient } from '../../src/api/index.ts';
import { eventually, freePort } from './berth.ts';
import { startAgent, startServer, type BerthProcess } from './cluster.ts';
import { startEtcd, type EtcdCluster } from '../../src/testing/index.ts';

/** One `berth server --etcd` of the cluster. */
export interface HaServer extends BerthProcess {
  /** Its `--name` (`s0`, `s1`, ...). */
  name: string;
  /** Its API URL, the same across restarts. */
  addr: string;
  /** Whether its process is running. */
  alive(): boolean;
}

/** Options of `startHaCluster`. */
export interface HaClusterOptions {
  /** berth servers. Default 3. */
  servers?: number;
  /** Agents (process driver), named n1, n2, ... Default 2. */
  agents?: number;
  /** etcd members. Default 3. */
  etcdMembers?: 1 | 3;
  /** More flags for every server (`--heartbeat-ttl 2s`). */
  serverFlags?: string[];
}

/** A running cluster. Server indexes are stable: a restarted server keeps its index, name and port. */
export interface HaCluster {
  etcd: EtcdCluster;
  servers: HaServer[];
  agents: BerthProcess[];
  /** Every server's API URL, in index order. */
  urls: string[];
  /** A client given every server (BERTH_ADDR as a user would set it). */
  client: BerthClient;
  /** Waits until every live server names the same live leader (default 15 s), and returns it. */
  leader(timeoutMs?: number): Promise<HaServer>;
  /** SIGKILL server `i`, as a crash would. */
  kill9(i: number): Promise<void>;
  /** SIGTERM server `i` and wait for it to exit. */
  stopServer(i: number): Promise<void>;
  /** Start server `i` again (same name, port and flags) and wait until it answers. */
  startServer(i: number): Promise<void>;
  /** Stop etcd member `i` (SIGKILL). */
  stopEtcdMember(i: number): Promise<void>;
  /** Start etcd member `i` again on its data dir and wait until it is healthy. */
  startEtcdMember(i: number): Promise<void>;
  /** Stop agents, servers and etcd, and remove every data dir. */
  stop(): Promise<void>;
}

/** Start etcd, the servers (in parallel) and then the agents; resolves once every node is ready. */
export async function startHaCluster(options: HaClusterOptions = {}): Promise<HaCluster> {
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-ha-'));
  const etcd = await startEtcd({ members: options.etcdMembers ?? 3, own: true });
  const servers: HaServer[] = [];
  const agents: BerthProcess[] = [];
  const names = Array.from({ length: options.servers ?? 3 }, (_, i) => `s${i}`);
  const ports = await Promise.all(names.map(() => freePort()));
  const urls = ports.map((p) => `http://127.0.0.1:${p}`);
  // One keyring key-encryption key for every server, as README's etcd example gives them.
  const kek = path.join(dir, 'keyring.kek');
  await writeFile(kek, randomBytes(32).toString('base64') + '\n', { mode: 0o600 });
  const flags = (name: string): string[] => ['--etcd', etcd.endpoints.join(','), '--name', name, '--keyring-kek', kek, ...(options.serverFlags ?? [])];
  const launch = async (i: number): Promise<HaServer> => {
    const p = await startServer(path.join(dir, names[i]), ports[i], '127.0.0.1', flags(names[i]));
    return { ...p, name: names[i], addr: urls[i], alive: () => p.child.exitCode === null && p.child.signalCode === null };
  };
  const stop = async (): Promise<void> => {
    await Promise.all(agents.map((a) => a.stop()));
    await Promise.all(servers.map((s) => s.stop()));
    await etcd.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    servers.push(...(await Promise.all(names.map((_, i) => launch(i)))));
    for (let i = 1; i <= (options.agents ?? 2); i++) {
      // Each agent starts on a different server, so that several are in use.
      const order = urls.map((_, k) => urls[(k + i - 1) % urls.length]);
      agents.push(await startAgent({ servers: order, dataDir: path.join(dir, `n${i}`), nodeName: `n${i}`, driver: 'process' }));
    }
    const client = new BerthClient({ address: urls });
    await eventually(
      `${agents.length} ready nodes`,
      async () => (await client.listNodes()).value.filter((n) => n.status === 'ready').length === agents.length,
      30_000,
    );
    const check = (i: number): HaServer => {
      const s = servers[i];
      if (!s) throw new Error(`Cannot find server ${i}: the cluster has ${servers.length}`);
      return s;
    };
    return {
      etcd,
      servers,
      agents,
      urls,
      client,
      leader: (timeoutMs = 15_000) => eventually('one leader every live server agrees on', () => agreedLeader(servers), timeoutMs),
      kill9: (i) => check(i).kill9(),
      stopServer: (i) => check(i).stop(),
      startServer: async (i) => {
        if (check(i).alive()) throw new Error(`Cannot start server ${i}: it is running`);
        servers[i] = await launch(i);
      },
      stopEtcdMember: (i) => etcd.killMember(i),
      startEtcdMember: (i) => etcd.restartMember(i),
      stop,
    };
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}

/** The leader when every live server names the same one and it is alive; undefined otherwise. */
async function agreedLeader(servers: HaServer[]): Promise<HaServer | undefined> {
  const live = servers.filter((s) => s.alive());
  const seen = await Promise.all(live.map((s) => leaderSeenBy(s.addr).catch(() => '')));
  const name = seen[0];
  if (!name || !seen.every((n) => n === name)) return undefined;
  return live.find((s) => s.name === name);
}

/** The name of the leader as the server at `addr` sees it ('' when it knows none). */
export async function leaderSeenBy(addr: string): Promise<string> {
  const res = await fetch(`${addr}/v1/servers`, { signal: AbortSignal.timeout(2_000) });
  if (!res.ok) return '';
  const list = (await res.json()) as { name: string; leader: boolean }[];
  return list.find((s) => s.leader)?.name ?? '';
}

/**
 * Real etcd for tests: one or three members on loopback, free ports, temp data dirs, fast raft
 * timings. Mirrors test/harness/dockerd.ts: `etcdTestAvailable`/`requireEtcd` skip without etcd, except under
 * CI where a missing etcd fails.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestContext } from 'node:test';
import { freePort } from './ports.ts';

/** A running etcd cluster. */
export interface EtcdCluster {
  /** Client URLs, one per member, e.g. `http://127.0.0.1:23791`. */
  endpoints: string[];
  /** Stops every member and removes the data dirs; does nothing to a cluster it was given. */
  stop(): Promise<void>;
  /** Kills member `i` (SIGKILL), as a crash would. */
  killMember(i: number): Promise<void>;
  /** Starts member `i` again on its data dir and waits until it is healthy. */
  restartMember(i: number): Promise<void>;
  /** The index of the current raft leader, as the first member that answers reports it. */
  leader(): Promise<number>;
}

/** Options of `startEtcd`. */
export interface StartEtcdOptions {
  /** Members to run. Default 1. */
  members?: 1 | 3;
  /** The etcd binary. Default `etcd` on PATH. */
  etcdPath?: string;
  /** How long the cluster may take to become healthy. Default 20 000 ms. */
  readyTimeoutMs?: number;
  /** Start a cluster even when `BERTH_TEST_ETCD_ENDPOINTS` is set (the test kills members). */
  own?: boolean;
}

const MISSING_ETCD =
  'etcd is not installed (apt-get install -y etcd-server etcd-client) and BERTH_TEST_ETCD_ENDPOINTS is not set';

/** The endpoints given by `BERTH_TEST_ETCD_ENDPOINTS` (comma-separated), or undefined. */
function givenEndpoints(): string[] | undefined {
  const raw = process.env.BERTH_TEST_ETCD_ENDPOINTS?.trim();
  return raw ? raw.split(',').map((s) => s.trim()).filter(Boolean) : undefined;
}

/**
 * Whether the etcd tests can run: true, or false when they should be skipped. Under CI
 * (`CI=true`) a missing etcd throws instead, so etcd tests never silently vanish.
 */
export function etcdTestAvailable(etcdPath = 'etcd'): boolean {
  if (givenEndpoints()) return true;
  if (spawnSync(etcdPath, ['--version'], { stdio: 'ignore' }).status === 0) return true;
  if (process.env.CI === 'true') throw new Error(`Cannot run the etcd tests: ${MISSING_ETCD}`);
  return false;
}

/** For a test that needs etcd: true, or false after marking the test skipped (it should return). */
export function requireEtcd(t: TestContext): boolean {
  if (etcdTestAvailable()) return true;
  t.skip(`no etcd: ${MISSING_ETCD}`);
  return false;
}

/** The reason etcd tests are skipped, or undefined when they can run (for `describe` options). */
export function etcdSkipReason(): string | undefined {
  return etcdTestAvailable() ? undefined : `no etcd: ${MISSING_ETCD}`;
}

interface Member {
  name: string;
  clientUrl: string;
  peerUrl: string;
  dataDir: string;
  logPath: string;
  child?: ChildProcess;
  /** Raft member id, learnt from the first status answer. */
  memberId?: string;
}

/**
 * Starts an etcd cluster for a test run. When `BERTH_TEST_ETCD_ENDPOINTS` is set and one member is
 * asked for (without `own`), that cluster is used as it is (never started, stopped or wiped here);
 * a three-member cluster is always started here, since tests kill its members.
 */
export async function startEtcd(options: StartEtcdOptions = {}): Promise<EtcdCluster> {
  const size = options.members ?? 1;
  const given = givenEndpoints();
  if (given && size === 1 && !options.own) {
    const refuse = async () => {
      throw new Error('Cannot kill or restart a member of the etcd cluster given by BERTH_TEST_ETCD_ENDPOINTS');
    };
    return { endpoints: given, stop: async () => {}, killMember: refuse, restartMember: refuse, leader: async () => 0 };
  }
  // A port probed free can still be taken before etcd binds it; pick new ones and try again.
  for (let attempt = 1; ; attempt++) {
    try {
      return await launchCluster(size, options);
    } catch (error) {
      if (attempt >= 3 || !/address already in use/.test((error as Error).message)) throw error;
    }
  }
}

async function launchCluster(size: number, options: StartEtcdOptions): Promise<EtcdCluster> {
  const binary = options.etcdPath ?? 'etcd';
  const timeoutMs = options.readyTimeoutMs ?? 20_000;
  const dir = await mkdtemp(join(tmpdir(), 'berth-etcd-'));
  const members: Member[] = [];
  for (let i = 0; i < size; i++) {
    members.push({
      name: `m${i}`,
      clientUrl: `http://127.0.0.1:${await freePort()}`,
      peerUrl: `http://127.0.0.1:${await freePort()}`,
      dataDir: join(dir, `m${i}`),
      logPath: join(dir, `m${i}.log`),
    });
  }
  const args = memberArgs(members, `berth-test-${randomBytes(6).toString('hex')}`);
  const onExit = (): void => {
    for (const m of members) m.child?.kill('SIGKILL');
  };
  process.on('exit', onExit);
  const stop = async (): Promise<void> => {
    process.off('exit', onExit);
    await Promise.all(members.map((m) => stopMember(m, 'SIGTERM')));
    await rm(dir, { recursive: true, force: true, maxRetries: 5 });
  };
  const check = (i: number): Member => {
    const m = members[i];
    if (!m) throw new Error(`Cannot find etcd member ${i}: the cluster has ${members.length}`);
    return m;
  };
  try {
    for (const [i, m] of members.entries()) m.child = await spawnMember(binary, m, args[i]);
    await Promise.all(members.map((m) => waitHealthy(m, timeoutMs)));
  } catch (error) {
    await stop().catch(() => {});
    throw error;
  }
  return {
    endpoints: members.map((m) => m.clientUrl),
    stop,
    killMember: (i) => stopMember(check(i), 'SIGKILL'),
    restartMember: async (i) => {
      const m = check(i);
      await stopMember(m, 'SIGTERM');
      m.child = await spawnMember(binary, m, args[i]);
      await waitHealthy(m, timeoutMs);
    },
    leader: () => findLeader(members),
  };
}

/** Asks the live members (etcd's JSON gateway) who leads, and maps its member id to an index. */
async function findLeader(members: Member[]): Promise<number> {
  const statuses: { id: string; leader: string }[] = [];
  for (const m of members) {
    if (!m.child) continue;
    try {
      const res = await fetch(`${m.clientUrl}/v3/maintenance/status`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(2000) });
      const body = (await res.json()) as { header: { member_id: string }; leader: string };
      statuses.push({ id: body.header.member_id, leader: body.leader });
      m.memberId = body.header.member_id;
    } catch {
      // A member that does not answer cannot be asked; the others still can.
    }
  }
  const leaderId = statuses.find((s) => s.leader !== '0')?.leader;
  const index = members.findIndex((m) => m.memberId !== undefined && m.memberId === leaderId);
  if (index < 0) throw new Error(`Cannot find the etcd leader: members answered ${JSON.stringify(statuses)}`);
  return index;
}

/** Command lines of the members of one new cluster. */
function memberArgs(members: Member[], token: string): string[][] {
  const initialCluster = members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
  return members.map((m) => [
    '--name', m.name,
    '--data-dir', m.dataDir,
    '--listen-client-urls', m.clientUrl,
    '--advertise-client-urls', m.clientUrl,
    '--listen-peer-urls', m.peerUrl,
    '--initial-advertise-peer-urls', m.peerUrl,
    '--initial-cluster', initialCluster,
    '--initial-cluster-state', 'new',
    '--initial-cluster-token', token,
    // Fast elections and a 1 s minimum lease TTL, so failover and lease tests stay quick.
    '--heartbeat-interval', '50',
    '--election-timeout', '500',
    // berth commits a whole plan as one txn; etcd's default of 128 ops is too few (see openEtcdState).
    '--max-txn-ops', '10000',
  ]);
}

async function spawnMember(binary: string, m: Member, args: string[]): Promise<ChildProcess> {
  const logFd = openSync(m.logPath, 'a');
  try {
    const child = spawn(binary, args, { stdio: ['ignore', logFd, logFd] });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (error) => reject(new Error(`Cannot start etcd "${binary}": ${error.message}. ${MISSING_ETCD}`)));
    });
    return child;
  } finally {
    closeSync(logFd);
  }
}

async function stopMember(m: Member, signal: NodeJS.Signals): Promise<void> {
  const child = m.child;
  m.child = undefined;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  // A member that has lost its peers can spend seconds trying to hand over leadership: cut it short.
  const done = await Promise.race([exited.then(() => true), sleep(1000).then(() => false)]);
  if (!done) {
    child.kill('SIGKILL');
    await exited;
  }
}

/** Waits until the member answers `/health` with a leader, or fails with the tail of its log. */
async function waitHealthy(m: Member, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    const child = m.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`Cannot start etcd member ${m.name}: it exited (${child?.exitCode ?? child?.signalCode}). Log tail:\n${logTail(m.logPath)}`);
    }
    try {
      const res = await fetch(`${m.clientUrl}/health`, { signal: AbortSignal.timeout(2000) });
      const body = await res.text();
      if (res.ok && /"health":\s*"true"/.test(body)) return;
      last = `HTTP ${res.status} ${body.trim()}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await sleep(50);
  }
  throw new Error(`Cannot start etcd member ${m.name}: not healthy after ${timeoutMs} ms (${last}). Log tail:\n${logTail(m.logPath)}`);
}

function logTail(path: string): string {
  try {
    return readFileSync(path, 'utf8').split('\n').slice(-20).join('\n');
  } catch {
    return '(no log)';
  }
}

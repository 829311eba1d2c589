/**
 * DNS served by worker processes (node:cluster), to spread the load over every core: each worker
 * binds its own UDP socket on the port with SO_REUSEPORT (the kernel spreads datagrams over them
 * by source address and port; one socket shared through the primary where the platform has no
 * SO_REUSEPORT), they share the TCP listener, and get the zone from this process each time it
 * changes. A caveat of SO_REUSEPORT: another process of the same user that binds the port with it
 * too (a stale worker of an earlier run) shares the datagrams rather than failing to bind.
 */
import cluster, { type Worker } from 'node:cluster';
import dgram from 'node:dgram';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../../lib/index.ts';
import type { DnsStats } from './handler.ts';
import type { DnsServerOptions } from './server.ts';
import type { DnsZoneData } from './zone.ts';

/** What the primary tells a worker. */
export type ToWorker =
  | { type: 'start'; options: Omit<DnsServerOptions, 'zone' | 'logger'>; zone: DnsZoneData }
  | { type: 'zone'; zone: DnsZoneData }
  | { type: 'stats' };

/** What a worker tells the primary. */
export type FromWorker = { type: 'hello' } | { type: 'ready'; port: number } | { type: 'error'; message: string } | { type: 'stats'; stats: DnsStats };

/** Options of `DnsCluster.start`. */
export interface DnsClusterOptions extends Omit<DnsServerOptions, 'zone'> {
  /** Worker processes; 2 on a 2-core machine. */
  workers: number;
  /** The current zone. */
  zone: () => DnsZoneData;
  /** Subscribe to new zones; returns the unsubscribe function. */
  onZone: (listener: (zone: DnsZoneData) => void) => () => void;
  logger: Logger;
}

// From the sources the worker is worker.ts, run through tsx; in the build (scripts/build.ts) it is
// dist/worker.js, beside the chunk this code is bundled into.
const FROM_SOURCES = import.meta.url.endsWith('.ts');
const WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), FROM_SOURCES ? 'worker.ts' : 'worker.js');

/** DNS served by several processes. */
export class DnsCluster {
  readonly #workers: Worker[] = [];
  #unsubscribe: () => void = () => {};
  #port = 0;
  #stopping = false;

  /** Fork the workers and resolve once every one listens. */
  static async start(options: DnsClusterOptions): Promise<DnsCluster> {
    const c = new DnsCluster();
    try {
      await c.#start(options);
    } catch (err) {
      await c.stop();
      throw err;
    }
    return c;
  }

  get port(): number {
    return this.#port;
  }

  async #start(o: DnsClusterOptions): Promise<void> {
    // Workers bind one shared port: pick it here when asked for any.
    const port = o.port === 0 ? await freeUdpPort(o.hosts?.[0] ?? '127.0.0.1') : (o.port ?? 7453);
    cluster.setupPrimary({ exec: WORKER, execArgv: FROM_SOURCES ? ['--import', 'tsx'] : [], silent: false });
    const { workers: _n, zone: _z, onZone: _o, logger: _l, ...rest } = o;
    const starts: Promise<void>[] = [];
    for (let i = 0; i < o.workers; i++) {
      const worker = cluster.fork();
      this.#workers.push(worker);
      worker.on('exit', (code) => {
        if (!this.#stopping) o.logger.error({ code, pid: worker.process.pid }, 'DNS worker exited');
      });
      starts.push(
        new Promise((resolve, reject) => {
          // A message sent before the worker listens is lost, so the worker says hello first.
          const onMessage = (m: FromWorker): void => {
            if (m.type === 'hello') return void worker.send({ type: 'start', options: { ...rest, port, reusePort: rest.reusePort ?? true }, zone: o.zone() } satisfies ToWorker);
            worker.off('message', onMessage);
            if (m.type === 'ready') resolve();
            else reject(new Error(m.type === 'error' ? `Cannot start DNS worker: ${m.message}` : 'Cannot start DNS worker: unexpected message'));
          };
          worker.on('message', onMessage);
          worker.once('exit', (code) => reject(new Error(`Cannot start DNS worker: it exited with ${code}`)));
        }),
      );
    }
    await Promise.all(starts);
    this.#port = port;
    this.#unsubscribe = o.onZone((zone) => {
      for (const w of this.#workers) if (w.isConnected()) w.send({ type: 'zone', zone } satisfies ToWorker);
    });
  }

  /** The workers' counters, added up. */
  async stats(): Promise<DnsStats> {
    const all = await Promise.all(
      this.#workers.filter((w) => w.isConnected()).map(
        (w) =>
          new Promise<DnsStats>((resolve) => {
            const on = (m: FromWorker): void => {
              if (m.type !== 'stats') return;
              w.off('message', on);
              resolve(m.stats);
            };
            w.on('message', on);
            w.send({ type: 'stats' } satisfies ToWorker);
          }),
      ),
    );
    const sum: DnsStats = { queries: 0, malformed: 0, refused: 0, nxdomain: 0, truncated: 0, forwarded: 0 };
    for (const s of all) for (const k of Object.keys(sum) as (keyof DnsStats)[]) sum[k] += s[k];
    return sum;
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    this.#unsubscribe();
    await Promise.all(
      this.#workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.isDead()) return resolve();
            w.once('exit', () => resolve());
            w.kill();
          }),
      ),
    );
  }
}

function freeUdpPort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    s.once('error', reject);
    s.bind(0, host, () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

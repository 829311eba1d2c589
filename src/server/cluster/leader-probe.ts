/**
 * Noticing a crashed leader before its lease runs out: a follower opens a TCP connection to the
 * leader's API every `intervalMs`; when the connection is refused twice in a row (nothing listens
 * on the leader's address: its process is gone), it revokes the leader's lease, which deletes the
 * leader key, and every server campaigns at once. A leader that is merely slow or unreachable (a
 * timeout, a partition) is left to its lease: only a refusal counts, so a busy leader is never
 * deposed by this; and only once this follower has reached that leader at least once, so a
 * firewall that rejects followers' connections (a refusal too) never deposes a healthy leader. Hand-written: a connect and a close, no library does less.
 */
import net from 'node:net';
import { ControlLoop, type Clock, type Logger } from '../../lib/index.ts';
import type { StateBackend } from '../../state/index.ts';

/** Refusals in a row before the lease is revoked. */
const STRIKES = 2;
/** Longest a probe waits for the connection: a slow answer is not a refusal. */
const CONNECT_TIMEOUT_MS = 1000;

/** The leader as a follower knows it: where it listens and the lease its key is bound to. */
export interface ProbedLeader {
  name: string;
  url: string;
  lease: number;
}

/** Options of `LeaderProbe`. */
export interface LeaderProbeOptions {
  backend: StateBackend;
  logger: Logger;
  clock: Clock;
  intervalMs: number;
  /** The leader to probe now, or undefined (none, or this server leads). */
  leader: () => ProbedLeader | undefined;
}

/** Probes the leader from a follower, and revokes the lease of one whose address refuses connections. */
export class LeaderProbe {
  readonly #o: LeaderProbeOptions;
  readonly #loop: ControlLoop;
  #strikes = 0;
  #lease = 0;
  /** This follower connected to the current leader once: its refusals now mean it is gone. */
  #reached = false;

  constructor(options: LeaderProbeOptions) {
    this.#o = options;
    this.#loop = new ControlLoop(() => this.#probe(), { intervalMs: options.intervalMs, clock: options.clock, onError: () => {} });
  }

  start(): void {
    this.#loop.start();
  }

  stop(): void {
    void this.#loop.stop();
  }

  async #probe(): Promise<void> {
    const leader = this.#o.leader();
    if (!leader || leader.lease !== this.#lease) {
      this.#strikes = 0;
      this.#reached = false;
    }
    if (!leader) return;
    this.#lease = leader.lease;
    const outcome = await connect(leader.url);
    if (outcome !== 'refused') {
      this.#strikes = 0;
      if (outcome === 'open') this.#reached = true;
      return;
    }
    if (!this.#reached || ++this.#strikes < STRIKES || this.#o.leader()?.lease !== leader.lease) return;
    this.#strikes = 0;
    this.#o.logger.warn({ leader: leader.name, url: leader.url }, 'the leader refuses connections (its process is gone); revoking its lease');
    await this.#o.backend.leaseRevoke(leader.lease).catch(() => {});
  }
}

/** A TCP connection to the URL's host and port: opened, refused, or neither (a timeout, another error). */
function connect(url: string): Promise<'open' | 'refused' | 'other'> {
  let host: string;
  let port: number;
  try {
    const u = new URL(url);
    host = u.hostname.replace(/^\[|\]$/g, '');
    port = Number(u.port || (u.protocol === 'https:' ? 443 : 80));
  } catch {
    return Promise.resolve('other');
  }
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (outcome: 'open' | 'refused' | 'other'): void => {
      socket.destroy();
      resolve(outcome);
    };
    socket.setTimeout(CONNECT_TIMEOUT_MS, () => done('other'));
    socket.once('connect', () => done('open'));
    socket.once('error', (err: NodeJS.ErrnoException) => done(err.code === 'ECONNREFUSED' ? 'refused' : 'other'));
  });
}

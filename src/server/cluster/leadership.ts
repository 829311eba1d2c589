/**
 * Leader election and server membership over the state backend's leases, etcd's own recipe: the
 * leader is whoever created the `leader` key, bound to its lease, while that key was absent. The
 * key goes away with the lease (a crashed leader stops renewing it), every server watches it, and
 * the others campaign as soon as it is gone. Each server also keeps a member key on the same lease.
 * It works the same on every backend: on sqlite and memory one server simply always wins.
 *
 * Timing uses the clock the backend's leases expire by (`LeadershipOptions.clock`), which the server
 * leaves at the wall clock, not the server's injectable clock: a renewal must keep pace with the
 * backend, whatever time the scheduler is shown. The rounds run on a ControlLoop.
 */
import { BerthError } from '../../model/index.ts';
import { ControlLoop, systemClock, type Clock, type Logger, type Timer } from '../../lib/index.ts';
import type { Compare, KeyValue, StateBackend, WatchBatch, Watcher } from '../../state/index.ts';
import { LeaderProbe } from './leader-probe.ts';

/** The keys of the servers' coordination (the state view ignores them). */
export const CLUSTER_PREFIX = '/berth/cluster/';
/** Held by the leader, bound to its lease. */
export const LEADER_KEY = `${CLUSTER_PREFIX}leader`;
/** One key per live server, bound to its lease. */
export const MEMBERS_PREFIX = `${CLUSTER_PREFIX}members/`;

/** The fence of a server that does not lead: no key's createRevision is ever -1, so it never holds. */
export const NOT_LEADING: readonly Compare[] = [{ key: LEADER_KEY, target: 'createRevision', op: '=', value: -1 }];

/** What a server tells the others about itself. */
export interface ServerMember {
  /** Unique among the servers (default host name and port). */
  name: string;
  /** Where its HTTP API answers, e.g. `http://10.0.0.1:7460`. */
  url: string;
  /** The address of its discovery node (DNS, external services). */
  address: string;
  /** When it started, ms since the epoch. */
  startedAt: number;
}

/** A member as stored: with the lease it lives on. */
interface MemberRecord extends ServerMember {
  lease: number;
}

/** Options of `Leadership`. */
export interface LeadershipOptions {
  backend: StateBackend;
  logger: Logger;
  /** The clock the backend's leases expire by. Default: the wall clock. */
  clock?: Clock;
  /**
   * Lease TTL in seconds: a crashed leader is replaced this long after its last renewal, at most.
   * Renewed every third of it. Default 3.
   */
  ttlSeconds?: number;
  /**
   * How often a follower probes the leader's address (`leader-probe.ts`): a crashed leader is then
   * replaced within about two probes instead of a lease TTL. Default: off.
   */
  probeIntervalMs?: number;
  /** Called when this server becomes the leader: start the control loops. */
  onElected: () => void;
  /** Called when it stops being the leader (lease lost, backend unreachable, stop): stop them at once. */
  onDeposed: () => void;
}

/** Time kept back from the lease's end, for timer lateness: the leader steps down this much early. */
const SAFETY_MS = 300;

/** This server's part in the election, and what it knows of the other servers. */
export class Leadership {
  readonly #o: LeadershipOptions;
  readonly #ttlMs: number;
  /** This server, from `start` on (its URL is known once it listens, after the routes exist). */
  #self: ServerMember | undefined;
  #lease: number | undefined;
  /** The createRevision of our leader key while we lead: the fence of our writes. */
  #term = 0;
  #leading = false;
  #leader: MemberRecord | undefined;
  readonly #members = new Map<string, MemberRecord>();
  #watcher: Watcher | undefined;
  readonly #clock: Clock;
  /** Renews the lease and campaigns: every third of the TTL, and at once when the leader key goes. */
  readonly #rounds: ControlLoop;
  #expiry: Timer | undefined;
  #stopped = false;
  readonly #probe: LeaderProbe | undefined;

  constructor(options: LeadershipOptions) {
    this.#o = options;
    const ttl = options.ttlSeconds ?? 3;
    if (!(ttl > 0)) throw new BerthError('invalid_input', `Cannot take part in leader election: the lease TTL must be positive, got ${ttl}`);
    this.#ttlMs = ttl * 1000;
    this.#clock = options.clock ?? systemClock;
    this.#rounds = new ControlLoop(() => this.#round(), {
      intervalMs: this.#ttlMs / 3,
      clock: this.#clock,
      onError: (err) => this.#o.logger.warn({ err: (err as Error).message }, 'leader election round failed; retrying'),
    });
    if (options.probeIntervalMs) {
      this.#probe = new LeaderProbe({
        backend: options.backend,
        logger: options.logger,
        clock: this.#clock,
        intervalMs: options.probeIntervalMs,
        leader: () => (this.#leading || !this.#leader || this.#leader.name === this.#self?.name ? undefined : this.#leader),
      });
    }
  }

  /** True while this server leads. */
  get isLeader(): boolean {
    return this.#leading;
  }

  /** This server, once it joined (`start`). */
  get self(): ServerMember {
    if (!this.#self) throw new BerthError('unavailable', 'Cannot tell which server this is: it has not joined the servers yet; retry in a moment');
    return this.#self;
  }

  /** The current leader as last seen, or undefined while there is none. */
  get leader(): ServerMember | undefined {
    return this.#leader && strip(this.#leader);
  }

  /** Live servers (their member key exists), by name. */
  members(): ServerMember[] {
    return [...this.#members.values()].map(strip).sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * The compare that makes a txn land only while this server still leads in the same term. When it
   * does not lead, a compare that never holds.
   */
  fence(): Compare[] {
    return this.#leading ? [{ key: LEADER_KEY, target: 'createRevision', op: '=', value: this.#term }] : [...NOT_LEADING];
  }

  /** Join as `member`: take a lease, register, follow the cluster keys, and campaign. Resolves after the first try. */
  async start(member: ServerMember): Promise<void> {
    this.#self = member;
    await this.#follow();
    this.#rounds.start();
    this.#probe?.start();
    await this.#rounds.idle;
  }

  /** Leave: step down and give the lease back, so another server takes over without waiting for the TTL. */
  async stop(): Promise<void> {
    this.#stopped = true;
    // Not awaited: a round stuck on an unreachable backend must not hold the server's stop.
    void this.#rounds.stop();
    this.#probe?.stop();
    this.#watcher?.cancel();
    this.#depose('stopping');
    const lease = this.#lease;
    this.#lease = undefined;
    if (lease !== undefined) await this.#o.backend.leaseRevoke(lease).catch(() => {});
  }

  /**
   * Renew (or take) the lease, then campaign when nobody leads. A server whose lease has just run
   * out, while other servers are there, lets them campaign first and joins in from its next round,
   * so that leadership moves on rather than bouncing back to the server that lost it; alone, it
   * campaigns at once.
   */
  async #round(): Promise<void> {
    if (this.#stopped) return;
    const had = this.#lease;
    await this.#renew();
    const lostLease = had !== undefined && had !== this.#lease;
    const others = [...this.#members.keys()].some((name) => name !== this.#self?.name);
    if (this.#lease !== undefined && !this.#leader && !(lostLease && others)) await this.#campaign();
  }

  async #renew(): Promise<void> {
    const sentAt = this.#clock.now();
    if (this.#lease === undefined) {
      const lease = await this.#o.backend.leaseGrant(this.#ttlMs / 1000);
      const record: MemberRecord = { ...this.self, lease: lease.id };
      await this.#o.backend.put(MEMBERS_PREFIX + this.self.name, JSON.stringify(record), { lease: lease.id });
      this.#lease = lease.id;
    } else {
      try {
        await this.#o.backend.leaseKeepAlive(this.#lease);
      } catch (err) {
        if (!(err instanceof BerthError && err.code === 'not_found')) throw err;
        this.#loseLease('the lease expired');
        return this.#renew();
      }
    }
    // The lease lives at least until sentAt + TTL; lead no longer than that without a renewal.
    this.#expiry?.cancel();
    this.#expiry = this.#clock.setTimer(() => this.#loseLease('no lease renewal within the TTL'), Math.max(0, sentAt + this.#ttlMs - SAFETY_MS - this.#clock.now()));
  }

  /** Forget the lease (it may still live in the backend: revoke it when that answers) and step down. */
  #loseLease(why: string): void {
    this.#expiry?.cancel();
    const lease = this.#lease;
    this.#lease = undefined;
    this.#depose(why);
    if (lease !== undefined) void this.#o.backend.leaseRevoke(lease).catch(() => {});
  }

  async #campaign(): Promise<void> {
    const lease = this.#lease!;
    const record: MemberRecord = { ...this.self, lease };
    const res = await this.#o.backend.txn({
      compare: [{ key: LEADER_KEY, target: 'createRevision', op: '=', value: 0 }],
      success: [{ type: 'put', key: LEADER_KEY, value: JSON.stringify(record), lease }],
      failure: [{ type: 'range', selector: { key: LEADER_KEY } }],
    });
    if (this.#lease !== lease) return;
    if (res.succeeded) return this.#elect(res.revision, record);
    const kv = res.responses[0]?.kvs[0];
    // Our own key from a campaign whose answer was lost: we lead already.
    if (kv && kv.lease === lease) return this.#elect(kv.createRevision, record);
    if (kv) this.#leader = parse(kv);
  }

  #elect(term: number, record: MemberRecord): void {
    this.#leader = record;
    if (this.#leading || this.#stopped) return;
    this.#term = term;
    this.#leading = true;
    this.#o.logger.info({ name: record.name, term }, 'leadership acquired');
    this.#o.onElected();
  }

  #depose(why: string): void {
    if (!this.#leading) return;
    this.#leading = false;
    this.#term = 0;
    if (this.#leader?.name === this.#self?.name) this.#leader = undefined;
    this.#o.logger.warn({ name: this.#self?.name, why }, 'leadership lost');
    this.#o.onDeposed();
  }

  /** Load the cluster keys and watch them; after a lost watch, again a moment later. */
  async #follow(): Promise<void> {
    if (this.#stopped) return;
    const loaded = await this.#o.backend.range({ prefix: CLUSTER_PREFIX });
    this.#members.clear();
    this.#leader = undefined;
    for (const kv of loaded.kvs) this.#apply({ type: 'put', kv });
    const leader = this.#leader as MemberRecord | undefined;
    if (this.#leading && leader?.lease !== this.#lease) this.#depose('the leader key is gone');
    this.#watcher = await this.#o.backend.watch({ prefix: CLUSTER_PREFIX }, (batch) => this.#onBatch(batch), {
      fromRevision: loaded.revision + 1,
      onError: (err) => {
        if (this.#stopped) return;
        this.#o.logger.warn({ err: err.message }, 'lost the watch on the cluster keys; reloading');
        this.#clock.setTimer(() => void this.#follow().catch(() => this.#follow()), 500);
      },
    });
  }

  #onBatch(batch: WatchBatch): void {
    for (const ev of batch.events) this.#apply(ev);
    if (!this.#leader && !this.#stopped) this.#rounds.poke();
  }

  #apply(ev: { type: 'put' | 'delete'; kv: KeyValue }): void {
    const { key } = ev.kv;
    if (key === LEADER_KEY) {
      if (ev.type === 'put') {
        this.#leader = parse(ev.kv);
        if (this.#leading && this.#leader?.lease !== this.#lease) this.#depose('another server holds the leader key');
      } else {
        this.#leader = undefined;
        this.#depose('the leader key is gone');
      }
    } else if (key.startsWith(MEMBERS_PREFIX)) {
      const name = key.slice(MEMBERS_PREFIX.length);
      const record = ev.type === 'put' ? parse(ev.kv) : undefined;
      if (record) this.#members.set(name, record);
      else this.#members.delete(name);
    }
  }
}

function parse(kv: KeyValue): MemberRecord | undefined {
  try {
    return JSON.parse(kv.value) as MemberRecord;
  } catch {
    return undefined;
  }
}

function strip(record: MemberRecord): ServerMember {
  return { name: record.name, url: record.url, address: record.address, startedAt: record.startedAt };
}

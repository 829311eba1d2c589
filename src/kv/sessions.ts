/**
 * Consul's sessions: create, renew, destroy, and the reaper that ends them when their TTL lapses,
 * their node goes down or a bound check turns critical. Ending a session releases its locks (or
 * deletes its keys, by its behaviour) in the same txn, and puts those keys in lock-delay.
 */
import { randomUUID } from 'node:crypto';
import { BerthError } from '../model/index.ts';
import { ControlLoop, systemClock, type Clock } from '../lib/index.ts';
import { KV_SESSION_ENDS } from './entries.ts';
import type { KvStore } from './kv-store.ts';
import type { KvTx } from './kv-tx.ts';
import type { SessionRecord } from './session-types.ts';

/** The body of PUT /v1/session/create, Consul's names. */
export interface SessionCreate {
  Name?: string;
  Node?: string;
  LockDelay?: string | number;
  Behavior?: string;
  TTL?: string;
  Checks?: string[];
  NodeChecks?: string[];
  ServiceChecks?: { ID: string; Namespace?: string }[];
}

/** What the reaper asks the server about a session's bindings. */
export interface SessionHealth {
  /** True when the node is known and down. */
  nodeDown(node: string): boolean;
  /** True when a check with this id exists and is critical. */
  checkCritical(checkId: string): boolean;
}

/** Why a session ended, as its end marker and the event stream say. */
export type SessionEndReason = 'destroyed' | 'invalidated';

/** Seconds an end marker outlives its session's delete. */
const END_MARKER_TTL_S = 60;

const NS_PER_MS = 1_000_000;
/** Consul's defaults and bounds. */
const DEFAULT_LOCK_DELAY_MS = 15_000;
const MAX_LOCK_DELAY_MS = 60_000;
const MIN_TTL_MS = 10_000;
const MAX_TTL_MS = 86_400_000;

/** Parse a Go-style duration (`15s`, `500ms`, `1m`, `1h`) or bare nanoseconds into milliseconds. */
export function parseDurationMs(value: string | number, what: string): number {
  if (typeof value === 'number') return value / NS_PER_MS;
  const m = /^(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)?$/.exec(value.trim());
  if (!m) throw new BerthError('invalid_input', `Cannot parse ${what} "${value}": use a duration such as 15s or 500ms`, [{ path: what, message: 'invalid duration' }]);
  const n = Number(m[1]);
  const unit = { ns: 1e-6, us: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? 'ns']!;
  return n * unit;
}

/** Sessions over the KV store: the writes and, on the server, the reaper. */
export class Sessions {
  /** When each session was created or last renewed (ms since epoch). Servers keep it in memory, as Consul's leader does. */
  private readonly renewedAt = new Map<string, number>();
  /** Keys whose lock was lost by an ended session, and until when they cannot be acquired. */
  private readonly lockDelays = new Map<string, number>();
  /** The reaper, on the leader. */
  private reaper: ControlLoop | undefined;
  /** The lease end markers are put with, and until when it is handed out. */
  private markerLease: { id: number; until: number } | undefined;

  constructor(
    private readonly store: KvStore,
    private readonly defaultNode: string,
    private readonly clock: Clock = systemClock,
  ) {}

  private now(): number {
    return this.clock.now();
  }

  /** True while `key` is in lock-delay. */
  readonly inLockDelay = (key: string): boolean => {
    const until = this.lockDelays.get(key);
    if (until === undefined) return false;
    if (this.now() >= until) {
      this.lockDelays.delete(key);
      return false;
    }
    return true;
  };

  /** PUT /v1/session/create: returns the new session's id. */
  async create(body: SessionCreate): Promise<{ ID: string; index: number }> {
    const record = this.recordOf(body);
    const { index } = await this.store.write((tx) => tx.putSession(record), { applied: true });
    this.renewedAt.set(record.ID, this.now());
    return { ID: record.ID, index };
  }

  /** PUT /v1/session/renew/:id: the session, or undefined when it no longer exists. */
  renew(id: string): SessionRecord | undefined {
    const s = this.store.sessions.get(id);
    if (s) this.renewedAt.set(id, this.now());
    return s;
  }

  /** PUT /v1/session/destroy/:id: end it as if invalidated (the event stream says destroyed). */
  async destroy(id: string): Promise<void> {
    await this.endWith(id, 'destroyed');
  }

  /** End a session whose TTL lapsed, node went down or check turned critical. */
  async invalidate(id: string): Promise<void> {
    await this.endWith(id, 'invalidated');
  }

  private async endWith(id: string, reason: SessionEndReason): Promise<void> {
    if (!this.store.sessions.has(id)) return;
    for (let attempt = 0; ; attempt++) {
      const lease = await this.endMarkerLease();
      try {
        await this.store.write((tx) => {
          if (!tx.session(id)) return;
          this.end(tx, id);
          tx.join([], [{ type: 'put', key: KV_SESSION_ENDS + id, value: JSON.stringify({ reason }), lease }]);
        }, { applied: true });
        return;
      } catch (err) {
        // The shared lease ran out under us: take a new one, once.
        if (attempt > 0 || !(err instanceof BerthError && err.code === 'not_found')) throw err;
        this.markerLease = undefined;
      }
    }
  }

  /**
   * The lease of end markers: one shared for a while, so ending sessions costs no grant each; a
   * marker lives at most a lease TTL, long enough for the event stream to read it from history.
   */
  private async endMarkerLease(): Promise<number> {
    const now = this.now();
    if (this.markerLease && this.markerLease.until > now) return this.markerLease.id;
    const lease = await this.store.backend.leaseGrant(END_MARKER_TTL_S);
    this.markerLease = { id: lease.id, until: now + (END_MARKER_TTL_S * 1000) / 2 };
    return lease.id;
  }

  /** Sessions, optionally of one node. */
  list(node?: string): SessionRecord[] {
    return [...this.store.sessions.values()].filter((s) => node === undefined || s.Node === node).sort((a, b) => a.CreateIndex - b.CreateIndex);
  }

  /**
   * Start the reaper (on the leader): checks every `intervalMs`. Renewals seen in an earlier term
   * are forgotten: every session gets a full TTL from now, as on a Consul leader change.
   */
  startReaper(health: SessionHealth, intervalMs = 500): void {
    if (this.reaper) return;
    this.renewedAt.clear();
    // A failed pass is tried again at the next one.
    this.reaper = new ControlLoop(() => this.reap(health).then(() => undefined), { intervalMs, clock: this.clock, onError: () => {} });
    this.reaper.start();
  }

  /** Stop the reaper. */
  stop(): void {
    void this.reaper?.stop();
    this.reaper = undefined;
  }

  /** End every session whose TTL lapsed, node is down or bound check is critical. */
  async reap(health: SessionHealth): Promise<string[]> {
    const now = this.now();
    const ended: string[] = [];
    for (const s of this.store.sessions.values()) {
      // A session this server never saw renewed (made elsewhere, or before a restart) gets a full TTL from now.
      if (!this.renewedAt.has(s.ID)) this.renewedAt.set(s.ID, now);
      const ttl = s.TTL ? parseDurationMs(s.TTL, 'TTL') : 0;
      const lapsed = ttl > 0 && now - this.renewedAt.get(s.ID)! > ttl;
      const checks = [...s.NodeChecks, ...s.ServiceChecks.map((c) => c.ID)];
      if (lapsed || health.nodeDown(s.Node) || checks.some((c) => health.checkCritical(c))) ended.push(s.ID);
    }
    for (const id of ended) await this.invalidate(id);
    this.forgetLeftovers(now);
    return ended;
  }

  /**
   * What ended sessions leave in memory: renewal times of sessions gone (ended on another server,
   * or before this one led) and lock-delays run out on keys nobody tried to lock again. Without
   * this, both grow with every session ever made.
   */
  private forgetLeftovers(now: number): void {
    for (const id of this.renewedAt.keys()) if (!this.store.sessions.has(id)) this.renewedAt.delete(id);
    for (const [key, until] of this.lockDelays) if (now >= until) this.lockDelays.delete(key);
  }

  /** Sessions and lock-delays this server keeps in memory: what `forgetLeftovers` bounds. */
  get remembered(): { renewals: number; lockDelays: number } {
    return { renewals: this.renewedAt.size, lockDelays: this.lockDelays.size };
  }

  /** Release or delete the session's keys, put them in lock-delay, and delete the session. */
  private end(tx: KvTx, id: string): void {
    const s = tx.session(id);
    if (!s) return;
    const delayMs = s.LockDelay / NS_PER_MS;
    for (const e of tx.list('')) {
      if (e.Session !== id) continue;
      if (s.Behavior === 'delete') tx.delete(e.Key);
      else tx.set(e.Key, { Value: e.Value, Flags: e.Flags, LockIndex: e.LockIndex });
      if (delayMs > 0) this.lockDelays.set(e.Key, this.now() + delayMs);
    }
    tx.deleteSession(id);
    this.renewedAt.delete(id);
  }

  private recordOf(body: SessionCreate): SessionRecord {
    const behavior = body.Behavior ?? 'release';
    if (behavior !== 'release' && behavior !== 'delete') {
      throw new BerthError('invalid_input', `Cannot create a session: Behavior "${behavior}" is not release or delete`, [{ path: 'Behavior', message: 'must be release or delete' }]);
    }
    let ttl = '';
    if (body.TTL) {
      const ms = parseDurationMs(body.TTL, 'TTL');
      if (ms !== 0 && (ms < MIN_TTL_MS || ms > MAX_TTL_MS)) {
        throw new BerthError('invalid_input', `Cannot create a session: TTL "${body.TTL}" must be between 10s and 86400s`, [{ path: 'TTL', message: 'out of range' }]);
      }
      ttl = ms === 0 ? '' : body.TTL;
    }
    const delayMs = body.LockDelay === undefined ? DEFAULT_LOCK_DELAY_MS : parseDurationMs(body.LockDelay, 'LockDelay');
    // Consul reads a bare number as seconds when it is small; a string duration is exact.
    const lockDelayMs = typeof body.LockDelay === 'number' && body.LockDelay < 1000 ? body.LockDelay * 1000 : delayMs;
    const checks = [...(body.Checks ?? []), ...(body.NodeChecks ?? [])].filter((c) => c !== 'serfHealth');
    return {
      ID: randomUUID(),
      Name: body.Name ?? '',
      Node: body.Node ?? this.defaultNode,
      LockDelay: Math.min(lockDelayMs, MAX_LOCK_DELAY_MS) * NS_PER_MS,
      Behavior: behavior,
      TTL: ttl,
      NodeChecks: checks,
      ServiceChecks: body.ServiceChecks ?? [],
      CreateIndex: 0,
      ModifyIndex: 0,
    };
  }
}
